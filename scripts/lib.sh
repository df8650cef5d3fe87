# lib.sh - shell helpers the scripts share. Source it after setting ROOT:
#   . "$ROOT/scripts/lib.sh"

# The header comment of the calling script (after the #! line), without "# ":
# the script's usage, for -h/--help.
ls_usage() {
    sed -n '2,/^[^#]/{/^#/!d;s/^# \{0,1\}//;p}' "$0"
}

# How many parallel build jobs.
ls_jobs() {
    nproc 2>/dev/null || echo 2
}

# Installs the named Debian packages that are missing (apt, with sudo when not root).
ls_apt_install() {
    local missing=() p sudo=""
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$p")
        fi
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    echo "installing ${missing[*]} (apt)"
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

# Builds the configured tree DIR (extra arguments go to cmake --build) into
# DIR/build.log; on failure prints the log without progress lines and returns 1.
ls_cmake_build() {
    local dir="$1"
    shift
    if ! cmake --build "$dir" -j "$(ls_jobs)" "$@" >"$dir/build.log" 2>&1; then
        grep -vE '^\[ *[0-9]+%\]' "$dir/build.log" >&2
        echo "the build in $dir failed (full log: $dir/build.log)" >&2
        return 1
    fi
}

# A free TCP port on 127.0.0.1.
ls_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
