# virsh-session.sh: one long-lived patched virsh on an embedded QEMU driver.
# Sourced (bash).  The embedded driver lives inside the virsh process: one
# virsh must stay up from start to poweroff, or nothing handles the
# guest's shutdown.  It reads commands on a pipe; "echo TAG" after a
# command tells when it is done.  Needs $virsh and $root (driver root).
vpid=
session_open() {    # VIRSH_LOG
    vlog=$1
    : > "$vlog"
    coproc VIRSH { exec "$virsh" -c "qemu:///embed?root=$root" >"$vlog" 2>&1; }
    vin=${VIRSH[1]}
    vpid=$VIRSH_PID
    seq=0
}
session_run() {     # COMMAND...
    seq=$((seq + 1))
    printf '%s\necho @done%s@\n' "$*" "$seq" >&"$vin"
    local deadline=$((SECONDS + 60))
    until grep -q "^@done$seq@" "$vlog"; do
        kill -0 "$vpid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}
session_close() {
    printf 'quit\n' >&"$vin"
    exec {vin}>&-
    local deadline=$((SECONDS + 10))
    while kill -0 "$vpid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.1
    done
    kill "$vpid" 2>/dev/null
    wait "$vpid" 2>/dev/null
    vpid=
}
# errors: the errors virsh reported, with the lines that continue them
# (QEMU's own messages), less the "no such domain" of the clean-up commands.
errors() {
    awk '/^error: failed to get domain/ {next}
         /^error:/ {on = 1} /^$|^virsh # / {on = 0} on' "$vlog"
}

