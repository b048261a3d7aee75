#!/bin/sh
# Lab stand-in for the K3s installer (get.k3s.io), served by the lab inside every guest at
# @@LAB_URL@@/install.sh. It follows the real script's flow and messages (setup_env, download
# and verify, symlinks, env file, unit file, enable, restart unless INSTALL_K3S_SKIP_START or
# nothing changed) but downloads the lab's k3s stand-in from the lab's release server.
# Not supported: openrc, SELinux, air-gap (INSTALL_K3S_SKIP_DOWNLOAD), PR/commit builds.
set -e
set -o noglob

LAB_URL=@@LAB_URL@@
GITHUB_URL=${GITHUB_URL:-${LAB_URL}/k3s-io/k3s/releases}

lab_event() {
    /run/k3s-homelab-lab/bin/lab-event installer "$@" 2>/dev/null || true
}

info()
{
    echo '[INFO] ' "$@"
}
warn()
{
    echo '[WARN] ' "$@" >&2
}
fatal()
{
    echo '[ERROR] ' "$@" >&2
    lab_event install-result false exitCode:=1 "error=$*"
    exit 1
}

verify_system() {
    if [ -x /bin/systemctl ] || type systemctl > /dev/null 2>&1; then
        HAS_SYSTEMD=true
        return
    fi
    fatal 'Can not find systemd or openrc to use as a process supervisor for k3s'
}

quote() {
    for arg in "$@"; do
        printf '%s\n' "$arg" | sed "s/'/'\\\\''/g;1s/^/'/;\$s/\$/'/"
    done
}

quote_indent() {
    printf ' \\\n'
    for arg in "$@"; do
        printf '\t%s \\\n' "$(quote "$arg")"
    done
}

escape() {
    printf '%s' "$@" | sed -e 's/\([][!#$%&()*;<=>?\_`{|}]\)/\\\1/g;'
}

verify_k3s_url() {
    case "${K3S_URL}" in
        "") ;;
        https://*) ;;
        *) fatal "Only https:// URLs are supported for K3S_URL (have ${K3S_URL})" ;;
    esac
}

setup_env() {
    case "$1" in
        (-*|"")
            if [ -z "${K3S_URL}" ]; then
                CMD_K3S=server
            else
                if [ -z "${K3S_TOKEN}" ] && [ -z "${K3S_TOKEN_FILE}" ]; then
                    fatal "Defaulted k3s exec command to 'agent' because K3S_URL is defined, but K3S_TOKEN or K3S_TOKEN_FILE is not defined."
                fi
                CMD_K3S=agent
            fi
        ;;
        (*)
            CMD_K3S=$1
            shift
        ;;
    esac
    verify_k3s_url
    CMD_K3S_EXEC="${CMD_K3S}$(quote_indent "$@")"
    if [ -n "${INSTALL_K3S_NAME}" ]; then
        SYSTEM_NAME=k3s-${INSTALL_K3S_NAME}
    elif [ "${CMD_K3S}" = server ]; then
        SYSTEM_NAME=k3s
    else
        SYSTEM_NAME=k3s-${CMD_K3S}
    fi
    SYSTEMD_TYPE=${INSTALL_K3S_TYPE:-notify}
    BIN_DIR=${INSTALL_K3S_BIN_DIR:-/usr/local/bin}
    SYSTEMD_DIR=${INSTALL_K3S_SYSTEMD_DIR:-/etc/systemd/system}
    SERVICE_K3S=${SYSTEM_NAME}.service
    UNINSTALL_K3S_SH=${UNINSTALL_K3S_SH:-${BIN_DIR}/${SYSTEM_NAME}-uninstall.sh}
    KILLALL_K3S_SH=${KILLALL_K3S_SH:-${BIN_DIR}/k3s-killall.sh}
    FILE_K3S_SERVICE=${SYSTEMD_DIR}/${SERVICE_K3S}
    FILE_K3S_ENV=${SYSTEMD_DIR}/${SERVICE_K3S}.env
    PRE_INSTALL_HASHES=$(get_installed_hashes)
    INSTALL_K3S_CHANNEL_URL=${INSTALL_K3S_CHANNEL_URL:-"${LAB_URL}/v1-release/channels"}
    INSTALL_K3S_CHANNEL=${INSTALL_K3S_CHANNEL:-'stable'}
}

setup_tmp() {
    TMP_DIR=$(mktemp -d -t k3s-install.XXXXXXXXXX)
    TMP_HASH=${TMP_DIR}/k3s.hash
    TMP_BIN=${TMP_DIR}/k3s.bin
    cleanup() {
        code=$?
        set +e
        trap - EXIT
        rm -rf ${TMP_DIR}
        exit $code
    }
    trap cleanup INT EXIT
}

get_release_version() {
    if [ -n "${INSTALL_K3S_VERSION}" ]; then
        VERSION_K3S=${INSTALL_K3S_VERSION}
    else
        info "Finding release for channel ${INSTALL_K3S_CHANNEL}"
        version_url="${INSTALL_K3S_CHANNEL_URL}/${INSTALL_K3S_CHANNEL}"
        VERSION_K3S=$(curl -w '%{url_effective}' -L -s -S ${version_url} -o /dev/null | sed -e 's|.*/||')
    fi
    info "Using ${VERSION_K3S} as release"
}

download() {
    [ $# -eq 2 ] || fatal 'download needs exactly 2 arguments'
    set +e
    curl -o $1 -sfL $2
    status=$?
    set -e
    [ $status -eq 0 ] || fatal 'Download failed'
}

download_hash() {
    HASH_URL=${GITHUB_URL}/download/${VERSION_K3S}/sha256sum-amd64.txt
    info "Downloading hash ${HASH_URL}"
    download ${TMP_HASH} ${HASH_URL}
    HASH_EXPECTED=$(grep " k3s$" ${TMP_HASH})
    HASH_EXPECTED=${HASH_EXPECTED%%[[:blank:]]*}
}

installed_hash_matches() {
    if [ -x ${BIN_DIR}/k3s ]; then
        HASH_INSTALLED=$(sha256sum ${BIN_DIR}/k3s)
        HASH_INSTALLED=${HASH_INSTALLED%%[[:blank:]]*}
        if [ "${HASH_EXPECTED}" = "${HASH_INSTALLED}" ]; then
            return
        fi
    fi
    return 1
}

download_binary() {
    BIN_URL=${GITHUB_URL}/download/${VERSION_K3S}/k3s
    info "Downloading binary ${BIN_URL}"
    download ${TMP_BIN} ${BIN_URL}
}

verify_binary() {
    info "Verifying binary download"
    HASH_BIN=$(sha256sum ${TMP_BIN})
    HASH_BIN=${HASH_BIN%%[[:blank:]]*}
    if [ "${HASH_EXPECTED}" != "${HASH_BIN}" ]; then
        fatal "Download sha256 does not match ${HASH_EXPECTED}, got ${HASH_BIN}"
    fi
}

setup_binary() {
    chmod 755 ${TMP_BIN}
    info "Installing k3s to ${BIN_DIR}/k3s"
    chown root:root ${TMP_BIN}
    mv -f ${TMP_BIN} ${BIN_DIR}/k3s
}

download_and_verify() {
    setup_tmp
    get_release_version
    download_hash
    if installed_hash_matches; then
        info 'Skipping binary downloaded, installed k3s matches hash'
        return
    fi
    download_binary
    verify_binary
    setup_binary
}

create_symlinks() {
    [ "${INSTALL_K3S_SYMLINK}" = skip ] && return
    for cmd in kubectl crictl ctr; do
        if [ ! -e ${BIN_DIR}/${cmd} ] || [ "${INSTALL_K3S_SYMLINK}" = force ]; then
            which_cmd=$(command -v ${cmd} 2>/dev/null || true)
            if [ -z "${which_cmd}" ] || [ "${INSTALL_K3S_SYMLINK}" = force ]; then
                info "Creating ${BIN_DIR}/${cmd} symlink to k3s"
                ln -sf k3s ${BIN_DIR}/${cmd}
            else
                info "Skipping ${BIN_DIR}/${cmd} symlink to k3s, command exists in PATH at ${which_cmd}"
            fi
        else
            info "Skipping ${BIN_DIR}/${cmd} symlink to k3s, already exists"
        fi
    done
}

create_killall() {
    info "Creating killall script ${KILLALL_K3S_SH}"
    tee ${KILLALL_K3S_SH} >/dev/null << \EOF
#!/bin/sh
# Lab version of k3s-killall.sh: stops the k3s units (there are no containers to kill).
/run/k3s-homelab-lab/bin/lab-event installer killall true
for service in /etc/systemd/system/k3s*.service; do
    [ -s $service ] && systemctl stop $(basename $service)
done
exit 0
EOF
    chmod 755 ${KILLALL_K3S_SH}
}

create_uninstall() {
    info "Creating uninstall script ${UNINSTALL_K3S_SH}"
    tee ${UNINSTALL_K3S_SH} >/dev/null << EOF
#!/bin/sh
# Lab version of ${SYSTEM_NAME}-uninstall.sh: recorded in the event log, then refused, so a
# test can prove nothing ever uninstalls K3s.
/run/k3s-homelab-lab/bin/lab-event installer uninstall true script=${UNINSTALL_K3S_SH}
echo "lab: ${UNINSTALL_K3S_SH} was called; the lab refuses to uninstall K3s" >&2
exit 1
EOF
    chmod 755 ${UNINSTALL_K3S_SH}
}

systemd_disable() {
    systemctl disable ${SYSTEM_NAME} >/dev/null 2>&1 || true
    rm -f /etc/systemd/system/${SERVICE_K3S} || true
    rm -f /etc/systemd/system/${SERVICE_K3S}.env || true
}

create_env_file() {
    info "env: Creating environment file ${FILE_K3S_ENV}"
    touch ${FILE_K3S_ENV}
    chmod 0600 ${FILE_K3S_ENV}
    sh -c export | while read x v; do echo $v; done | grep -E '^(K3S|CONTAINERD)_' | tee ${FILE_K3S_ENV} >/dev/null || true
    sh -c export | while read x v; do echo $v; done | grep -Ei '^(NO|HTTP|HTTPS)_PROXY' | tee -a ${FILE_K3S_ENV} >/dev/null || true
}

create_systemd_service_file() {
    info "systemd: Creating service file ${FILE_K3S_SERVICE}"
    tee ${FILE_K3S_SERVICE} >/dev/null << EOF
[Unit]
Description=Lightweight Kubernetes
Documentation=https://k3s.io
Wants=network-online.target
After=network-online.target

[Install]
WantedBy=multi-user.target

[Service]
Type=${SYSTEMD_TYPE}
EnvironmentFile=-/etc/default/%N
EnvironmentFile=-/etc/sysconfig/%N
EnvironmentFile=-${FILE_K3S_ENV}
KillMode=process
Delegate=yes
User=root
# Having non-zero Limit*s causes performance problems due to accounting overhead
# in the kernel. We recommend using cgroups to do container-local accounting.
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=${BIN_DIR}/k3s \\
    ${CMD_K3S_EXEC}

EOF
}

get_installed_hashes() {
    sha256sum ${BIN_DIR}/k3s ${FILE_K3S_SERVICE} ${FILE_K3S_ENV} 2>&1 || true
}

systemd_enable() {
    info "systemd: Enabling ${SYSTEM_NAME} unit"
    systemctl enable ${FILE_K3S_SERVICE} >/dev/null
    systemctl daemon-reload >/dev/null
}

systemd_start() {
    info "systemd: Starting ${SYSTEM_NAME}"
    systemctl restart ${SYSTEM_NAME}
}

service_enable_and_start() {
    RESTARTED=false
    [ "${INSTALL_K3S_SKIP_ENABLE}" = true ] && return
    systemd_enable
    [ "${INSTALL_K3S_SKIP_START}" = true ] && return
    POST_INSTALL_HASHES=$(get_installed_hashes)
    if [ "${PRE_INSTALL_HASHES}" = "${POST_INSTALL_HASHES}" ] && [ "${INSTALL_K3S_FORCE_RESTART}" != true ]; then
        info 'No change detected so skipping service start'
        return
    fi
    systemd_start
    RESTARTED=true
}

lab_event install true "version=${INSTALL_K3S_VERSION}" "exec=${INSTALL_K3S_EXEC}" \
    "skipStart=${INSTALL_K3S_SKIP_START:-false}" "args=$*"

eval set -- $(escape "${INSTALL_K3S_EXEC}") $(quote "$@")

{
    verify_system
    setup_env "$@"
    download_and_verify
    create_symlinks
    create_killall
    create_uninstall
    systemd_disable
    create_env_file
    create_systemd_service_file
    service_enable_and_start
    lab_event install-result false exitCode:=0 "version=${VERSION_K3S}" "unit=${SYSTEM_NAME}" \
        restarted:=${RESTARTED}
}
