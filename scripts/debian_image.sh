# shellcheck shell=bash
#
# debian_image.sh - Debian bookworm images without a container registry
# (source this file; the functions talk to the engine of DOCKER_HOST).
# scripts/image.sh is the command built on it; the tests use it through
# tests/lib/debian_image.sh.
#
#   gw_debian_mirror            print the Debian mirror this machine's apt uses
#   gw_debian_rootfs_tar        print the path of a cached minbase rootfs tarball,
#                               making it with mmdebstrap when it is missing or
#                               older than GW_DEBIAN_MAX_AGE_DAYS (default 14;
#                               when that refresh fails, the old one is used)
#   gw_debian_image [NAME]      import that tarball as NAME unless the engine has
#                               it (default debian:bookworm-slim, the name the
#                               Dockerfiles start FROM)
#   gw_docker_build ARGS...     `docker build` with the classic builder, never
#                               pulling (what a registry-less machine needs)
#
# The base image is `mmdebstrap --variant=minbase bookworm` from the mirror of
# /etc/apt/sources.list(.d), trimmed like the official slim image (no docs,
# man pages or locales; apt keeps no .deb files and no lists), with the same
# apt sources as the host (bookworm, bookworm-updates, bookworm-security), so
# that `apt-get update && apt-get install` works in a Dockerfile built from it.
#
# Why the name debian:bookworm-slim: `docker import` tags locally, the classic
# builder and compose only pull an image that is absent (and nothing here
# passes --pull), so the Dockerfiles and the job default RUNNER_DEFAULT_IMAGE
# work unchanged, with no build argument. The import happens only when the
# engine has no image of that name, so it never replaces a pulled one.
#
# Why mmdebstrap (Debian's package; debootstrap makes the same minbase): it
# downloads with apt and resolves with apt, and installs with dpkg's
# --force-unsafe-io, so a cold run pays about half: 126 s against 280 s for
# debootstrap, one after the other on the same loaded machine (45 s of CPU
# against 70 s). debootstrap is used when mmdebstrap cannot be had.
#
# The tarball is cached in GW_CI_CACHE (default /var/cache/gitweave-ci) so a
# warm run makes none; GW_DEBIAN_REFRESH=1 forces a new one. A lock
# file serialises concurrent runs on one machine. The tarball is about 80 MB.
#
# Needs: root (mmdebstrap), mmdebstrap or debootstrap (installed with apt
# when missing), tar, docker.

GW_CI_CACHE=${GW_CI_CACHE:-/var/cache/gitweave-ci}
GW_DEBIAN_SUITE=bookworm
GW_DEBIAN_IMAGE=${GW_DEBIAN_IMAGE:-debian:bookworm-slim}

# The apt source entries of this machine as "URI SUITE" lines, from one-line
# (*.list) and deb822 (*.sources) files alike. Only deb (not deb-src) entries.
gw_debian_apt_entries() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        # deb [options] URI SUITE COMPONENT...
        sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && NF >= 3 { print $2, $3 }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # Paragraphs separated by blank lines; Types, URIs and Suites may list several.
        awk '
            function flush(   i, j, nu, ns, u, s) {
                if (types ~ /(^| )deb( |$)/ && enabled != "no") {
                    nu = split(uris, u, " "); ns = split(suites, s, " ")
                    for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j]
                }
                types = uris = suites = ""; enabled = "yes"
            }
            BEGIN { enabled = "yes" }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            {
                key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
                if (key == "types") types = $0
                else if (key == "uris") uris = $0
                else if (key == "suites") suites = $0
                else if (key == "enabled") enabled = tolower($0)
            }
            END { flush() }' "$f"
    done
}

# The mirror of the main suite (bookworm); http://deb.debian.org/debian if the
# machine names none.
gw_debian_mirror() {
    local uri
    uri=$(gw_debian_apt_entries | awk -v s="$GW_DEBIAN_SUITE" '$2 == s { print $1; exit }')
    echo "${uri:-http://deb.debian.org/debian}"
}

# The mirror of the security suite; Debian's own if the machine names none.
gw_debian_security_mirror() {
    local uri
    uri=$(gw_debian_apt_entries | awk -v s="$GW_DEBIAN_SUITE-security" '$2 == s { print $1; exit }')
    echo "${uri:-http://deb.debian.org/debian-security}"
}

# gw_debian_need_bootstrapper: print mmdebstrap, or debootstrap when only
# that one is there or can be installed; each is installed with apt when
# missing (after an `apt-get update` if the lists are too old to have it).
gw_debian_need_bootstrapper() {
    local tool
    for tool in mmdebstrap debootstrap; do
        command -v "$tool" >/dev/null 2>&1 && { echo "$tool"; return 0; }
    done
    for tool in mmdebstrap debootstrap; do
        echo "debian_image.sh: installing $tool" >&2
        if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$tool" >&2 ||
            { apt-get update >&2 &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$tool" >&2; }; then
            echo "$tool"
            return 0
        fi
    done
    return 1
}

# Trim the rootfs in $1 like the official slim image and point apt at the
# host's mirrors.
gw_debian_trim_rootfs() {
    local root=${1:?usage: gw_debian_trim_rootfs DIR} mirror security
    # Everything below is removed with root's paths: never the host's.
    case $root in /*/*) ;; *) echo "debian_image.sh: refusing to trim \"$root\"" >&2; return 1 ;; esac
    [ -x "$root/usr/bin/dpkg" ] || { echo "debian_image.sh: $root is no rootfs" >&2; return 1; }
    mirror=$(gw_debian_mirror)
    security=$(gw_debian_security_mirror)

    # What dpkg must not unpack from now on (as in debian:*-slim).
    cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
    # dpkg need not fsync each file of a throwaway build layer.
    echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
    # apt keeps no packages, no binary caches and no translations; no recommends.
    cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF
    # Services never start during a build.
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"

    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $GW_DEBIAN_SUITE $GW_DEBIAN_SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $GW_DEBIAN_SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # What the bootstrap copied from the host or left behind; the engine
    # provides hostname, hosts and resolv.conf at run time.
    : >"$root/etc/hostname"
    : >"$root/etc/resolv.conf"
    rm -rf "${root:?}"/var/cache/apt/archives/*.deb "${root:?}"/var/cache/apt/*.bin \
        "${root:?}"/var/lib/apt/lists/* "${root:?}"/tmp/* "${root:?}"/dev/*
    find "$root/var/log" -type f -delete
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null
    rm -rf "${root:?}"/usr/share/man/* "${root:?}"/usr/share/info/* "${root:?}"/usr/share/locale/* \
        "${root:?}"/usr/share/groff/* "${root:?}"/usr/share/lintian/*
    mkdir -p "$root/var/lib/apt/lists/partial"
    return 0
}

# Print the path of the cached rootfs tarball, making it first if needed.
gw_debian_rootfs_tar() {
    local tar=$GW_CI_CACHE/$GW_DEBIAN_SUITE-minbase.tar max_age=${GW_DEBIAN_MAX_AGE_DAYS:-14}
    local work mirror tool rc=0

    mkdir -p "$GW_CI_CACHE" || return 1
    (
        # One maker at a time; the others wait and then find the tarball.
        flock -w 1200 9 || { echo "debian_image.sh: could not lock $GW_CI_CACHE/lock" >&2; exit 1; }
        if [ -s "$tar" ] && [ "${GW_DEBIAN_REFRESH:-0}" != 1 ] &&
            [ -z "$(find "$tar" -mtime +"$max_age" 2>/dev/null)" ]; then
            exit 0
        fi
        tool=$(gw_debian_need_bootstrapper) || exit 1
        mirror=$(gw_debian_mirror)
        work=$(mktemp -d "$GW_CI_CACHE/rootfs.XXXXXX") || exit 1
        echo "debian_image.sh: $tool --variant=minbase $GW_DEBIAN_SUITE from $mirror" >&2
        if [ "$tool" = mmdebstrap ]; then
            # The merged-usr hook: /usr merged as debootstrap does, with the
            # package usr-is-merged (not usrmerge, which brings perl).
            set -- mmdebstrap --mode=root --variant=minbase --dpkgopt=force-unsafe-io \
                --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
                "$GW_DEBIAN_SUITE" "$work/rootfs" "$mirror"
        else
            set -- debootstrap --variant=minbase "$GW_DEBIAN_SUITE" "$work/rootfs" "$mirror"
        fi
        if "$@" >"$work/bootstrap.log" 2>&1; then
            rm -f "$work/rootfs/etc/dpkg/dpkg.cfg.d/99mmdebstrap"
            gw_debian_trim_rootfs "$work/rootfs" &&
                tar --numeric-owner --xattrs -C "$work/rootfs" -cf "$work/rootfs.tar" . &&
                mv -f "$work/rootfs.tar" "$tar"
            rc=$?
        else
            echo "debian_image.sh: $tool failed:" >&2
            tail -n 30 "$work/bootstrap.log" >&2
            rc=1
        fi
        gw_umount_below "$work"
        rm -rf "$work"
        if [ "$rc" != 0 ] && [ -s "$tar" ]; then
            echo "debian_image.sh: keeping the old $tar" >&2
            rc=0
        fi
        exit $rc
    ) 9>"$GW_CI_CACHE/lock" || return 1
    echo "$tar"
}

# gw_umount_below DIR: whatever is still mounted below DIR is unmounted,
# deepest first, so that removing DIR can never reach through a mount into
# the host (mmdebstrap and debootstrap unmount /proc and friends themselves;
# this is for when one failed half-way; the tests' dockerd uses it too).
gw_umount_below() {
    local dir=$1 m
    [ -n "$dir" ] || return 0
    awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
        while read -r m; do
            umount -l "$m" 2>/dev/null || true
        done
}

gw_debian_image() {
    local name=${1:-$GW_DEBIAN_IMAGE} tar
    docker image inspect "$name" >/dev/null 2>&1 && return 0
    tar=$(gw_debian_rootfs_tar) || return 1
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        --message "debootstrap --variant=minbase $GW_DEBIAN_SUITE (scripts/debian_image.sh)" \
        "$tar" "$name" >/dev/null
}

# gw_docker_build ARGS...: the classic builder (a docker CLI without the buildx
# plugin has no BuildKit), host networking for apt (the test daemon has no
# bridge), and no pull: every FROM must already be in the engine.
gw_docker_build() {
    DOCKER_BUILDKIT=0 docker build --network host -q "$@"
}
