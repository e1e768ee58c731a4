# shellcheck shell=bash
#
# dockerd.sh - a private, throwaway dockerd for tests (source this file).
#
#   gw_dockerd_start        start dockerd in a fresh /tmp/gwd.XXXX, export
#                           DOCKER_HOST=unix:///tmp/gwd.XXXX/docker.sock and
#                           wait until `docker info` answers (at most ~30 s)
#   gw_dockerd_stop         stop it by its pid, wait, remove the directory;
#                           safe to call twice (use it in a trap)
#   gw_busybox_image NAME   import a busybox-only image NAME if it is absent
#
# The daemon never touches the system socket /var/run/docker.sock: it has its
# own socket, data root, exec root, pid file and containerd namespace, no
# bridge and no iptables rules, so several of them (and a system dockerd) can
# run side by side.
# The storage driver is GW_DOCKERD_STORAGE_DRIVER; by default overlay2, with a
# fallback to vfs when dockerd will not start with overlay2 (e.g. when /tmp
# itself is on overlayfs).
#
# After gw_dockerd_start: GW_DOCKERD_DIR, GW_DOCKERD_PID, DOCKER_HOST and
# GW_DOCKERD_DRIVER are set; the daemon log is $GW_DOCKERD_DIR/dockerd.log.

GW_DOCKERD_DIR=${GW_DOCKERD_DIR:-}
GW_DOCKERD_PID=${GW_DOCKERD_PID:-}

# Install what is missing (docker.io for dockerd and the CLI, busybox-static
# for the test image). Quiet when everything is there.
gw_dockerd_need_packages() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v docker >/dev/null 2>&1 || missing+=(docker.io)
    [ -x /bin/busybox ] || missing+=(busybox-static)
    # The image needs a static busybox: the one of package busybox is not.
    if [ -x /bin/busybox ] && LC_ALL=C ldd /bin/busybox >/dev/null 2>&1; then
        missing+=(busybox-static)
    fi
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "dockerd.sh: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2 && return 0
    apt-get update >&2 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >&2
}

# gw_umount_below DIR (scripts/debian_image.sh): whatever is still mounted
# below DIR is unmounted (deepest first), so that removing the directory can
# never reach through a bind mount into the host.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/debian_image.sh"

# Start dockerd with storage driver $1 in $GW_DOCKERD_DIR and wait for it.
# Returns 0 when it answers, 1 when it died or did not answer in time.
gw_dockerd_try() {
    local driver=$1 dir=$GW_DOCKERD_DIR i ns
    rm -rf "$dir/data" "$dir/exec"
    mkdir -p "$dir/data" "$dir/exec"
    # Namespaces of our own in case dockerd finds a system containerd to use
    # (it starts one of its own under the exec root otherwise).
    ns=$(basename "$dir" | tr -c 'a-zA-Z0-9\n' -)
    dockerd --iptables=false --bridge=none --storage-driver="$driver" \
        --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/pid" \
        --containerd-namespace "$ns" --containerd-plugins-namespace "$ns-plugins" \
        -H "unix://$dir/docker.sock" >>"$dir/dockerd.log" 2>&1 &
    GW_DOCKERD_PID=$!
    for ((i = 0; i < 60; i++)); do
        if ! kill -0 "$GW_DOCKERD_PID" 2>/dev/null; then
            wait "$GW_DOCKERD_PID" 2>/dev/null
            GW_DOCKERD_PID=
            return 1
        fi
        if docker -H "unix://$dir/docker.sock" info >/dev/null 2>&1; then
            GW_DOCKERD_DRIVER=$driver
            return 0
        fi
        sleep 0.5
    done
    gw_dockerd_kill
    return 1
}

# Stop the daemon of GW_DOCKERD_PID: TERM, up to 20 s, then KILL.
gw_dockerd_kill() {
    local pid=$GW_DOCKERD_PID i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 40; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "dockerd.sh: dockerd $pid did not stop, killing it" >&2
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    GW_DOCKERD_PID=
}

gw_dockerd_start() {
    local driver=${GW_DOCKERD_STORAGE_DRIVER:-overlay2}

    if [ -n "$GW_DOCKERD_PID" ]; then
        echo "dockerd.sh: a dockerd is already running (pid $GW_DOCKERD_PID)" >&2
        return 1
    fi
    gw_dockerd_need_packages || return 1
    # Short: the exec root holds unix sockets (108-byte path limit).
    GW_DOCKERD_DIR=$(mktemp -d /tmp/gwd.XXXX) || return 1
    if ! gw_dockerd_try "$driver"; then
        if [ -n "${GW_DOCKERD_STORAGE_DRIVER:-}" ] || [ "$driver" = vfs ]; then
            echo "dockerd.sh: dockerd did not start with storage driver $driver;" \
                "log: $GW_DOCKERD_DIR/dockerd.log" >&2
            tail -n 20 "$GW_DOCKERD_DIR/dockerd.log" >&2
            return 1
        fi
        echo "dockerd.sh: dockerd did not start with $driver, trying vfs" >&2
        gw_umount_below "$GW_DOCKERD_DIR"
        if ! gw_dockerd_try vfs; then
            echo "dockerd.sh: dockerd did not start with vfs either;" \
                "log: $GW_DOCKERD_DIR/dockerd.log" >&2
            tail -n 20 "$GW_DOCKERD_DIR/dockerd.log" >&2
            return 1
        fi
    fi
    export DOCKER_HOST="unix://$GW_DOCKERD_DIR/docker.sock"
    export GW_DOCKERD_DIR GW_DOCKERD_PID GW_DOCKERD_DRIVER
    return 0
}

# Kill process $1 and its descendants, children first.
gw_dockerd_kill_tree() {
    local pid=$1 child children
    children=$(cat "/proc/$pid/task/"*/children 2>/dev/null)
    for child in $children; do
        gw_dockerd_kill_tree "$child"
    done
    kill -KILL "$pid" 2>/dev/null
}

# What the daemon started and left behind when it died without stopping its
# containers (its containerd, container shims and the containers' processes):
# every process whose command line names the daemon's directory, with its
# descendants.
gw_dockerd_kill_leftovers() {
    local dir=$1 p pids=() args
    [ -n "$dir" ] || return 0
    # Read with builtins: a process started per process on the machine
    # cost each container test seconds of CPU.
    for p in /proc/[0-9]*; do
        [ "${p#/proc/}" = "$$" ] && continue
        { mapfile -d '' -t args <"$p/cmdline"; } 2>/dev/null || continue
        [[ " ${args[*]} " == *"$dir/"* ]] && pids+=("${p#/proc/}")
    done
    [ ${#pids[@]} -gt 0 ] || return 0
    echo "dockerd.sh: killing what the daemon left running: ${pids[*]}" >&2
    for p in "${pids[@]}"; do
        gw_dockerd_kill_tree "$p"
    done
    sleep 0.5
}

gw_dockerd_stop() {
    gw_dockerd_kill
    if [ -n "$GW_DOCKERD_DIR" ] && [ -d "$GW_DOCKERD_DIR" ]; then
        gw_dockerd_kill_leftovers "$GW_DOCKERD_DIR"
        gw_umount_below "$GW_DOCKERD_DIR"
        rm -rf "$GW_DOCKERD_DIR"
    fi
    GW_DOCKERD_DIR=
    return 0
}

# Import an image NAME made of Debian's busybox-static alone (/bin/busybox and
# a symlink per applet, sh included) unless the daemon already has it.
gw_busybox_image() {
    local name=$1 tmp rc
    [ -n "$name" ] || { echo "usage: gw_busybox_image NAME" >&2; return 1; }
    docker image inspect "$name" >/dev/null 2>&1 && return 0
    gw_dockerd_need_packages || return 1
    tmp=$(mktemp -d /tmp/gwb.XXXX) || return 1
    mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/tmp" "$tmp/rootfs/workspace"
    cp /bin/busybox "$tmp/rootfs/bin/busybox"
    # The applets' links made by one process, not an `ln` each (about 400).
    # shellcheck disable=SC2046
    python3 -c 'import os, sys
for applet in sys.argv[2:]:
    if applet != "busybox":
        os.symlink("busybox", os.path.join(sys.argv[1], applet))' \
        "$tmp/rootfs/bin" $(/bin/busybox --list) || { rm -rf "$tmp"; return 1; }
    chmod 1777 "$tmp/rootfs/tmp"
    tar -C "$tmp/rootfs" -cf "$tmp/rootfs.tar" .
    docker import --change 'ENV PATH=/bin' "$tmp/rootfs.tar" "$name" >/dev/null
    rc=$?
    rm -rf "$tmp"
    return $rc
}

# gw_dockerd_busybox NAME: the test's own dockerd with the busybox image NAME,
# or the test fails at once (every container test starts this way).
gw_dockerd_busybox() {
    gw_dockerd_start || { fail "dockerd did not start"; exit 1; }
    gw_busybox_image "$1" || { fail "could not build the busybox image"; exit 1; }
}
