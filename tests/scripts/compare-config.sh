#!/usr/bin/env bash
# Runs two builds of anacondactl + anacondad on the same fresh homes, one configuration each,
# and diffs what `config show`, `--json config show` and `sites list` print (and a daemon's
# refusal to start on a bad value), temp paths and pids aside.
#
#   tests/scripts/compare-config.sh BEFORE_DIR AFTER_DIR [OUT_DIR]
#
# BEFORE_DIR and AFTER_DIR each hold an anacondactl and an anacondad. Prints one line per
# configuration (same / differs) and the diffs; exits 1 when any differs. The outputs are kept
# in OUT_DIR (default: a temporary directory, printed).
set -u
before=$(cd "$1" && pwd)
after=$(cd "$2" && pwd)
out=${3:-$(mktemp -d)}
mkdir -p "$out"

# Each case: a name, files written into the home (`file PATH TEXT`), variables (`var K V`),
# and arguments before the command (`args ...`).
cases=()
case_defaults() { :; }
case_ours_top() {
    file .config/anacondad/config.toml 'storage = "file"
keychain_timeout_secs = 9
auth_handler = "myhandler"
refresh_lead_fraction = 0.2
browser_login_port = 8123
export = ["rattler"]
credential_preference = "api-key"
command_timeout_secs = 12
domain = "ours.example"
repo_url = "https://ours.example/r/"
ssl_verify = false
proxy = "http://me:secret@proxy.example:3128"'
}
case_ours_sites() {
    file .config/anacondad/config.toml 'default_site = "b"
ssl_verify = false
[sites.a]
domain = "a.example"
[sites.b]
domain = "b.example"
repo_url = "https://b.example/packages/"
extra_repo_urls = ["https://mirror.b.example/"]
use_unified_repo_api_key = true
proxy = "http://proxy.b.example:1"'
}
case_var_storage() { var ANACONDAD_STORAGE file; }
case_var_keychain_timeout() { var ANACONDAD_KEYCHAIN_TIMEOUT_SECS 7; }
case_var_auth_handler() { var ANACONDAD_AUTH_HANDLER other; }
case_var_refresh_lead() { var ANACONDAD_REFRESH_LEAD_FRACTION 0.3; }
case_var_browser_port() { var ANACONDAD_BROWSER_LOGIN_PORT 8001; }
case_var_export() { var ANACONDAD_EXPORT "mamba, rattler"; }
case_var_credential_preference() { var ANACONDAD_CREDENTIAL_PREFERENCE api-key; }
case_var_command_timeout() { var ANACONDAD_COMMAND_TIMEOUT_SECS 5; }
case_var_domain() { var ANACONDAD_DOMAIN env.example; }
case_var_repo_url() { var ANACONDAD_REPO_URL https://env.example/r/; }
case_var_ssl_verify() { var ANACONDAD_SSL_VERIFY 0; }
case_var_ca_bundle() { file ca.pem ''; var ANACONDAD_CA_BUNDLE "$HOME/ca.pem"; }
case_var_proxy() { var ANACONDAD_PROXY http://envproxy.example:1; }
case_var_default_site() {
    file .config/anacondad/config.toml '[sites.a]
domain = "a.example"
[sites.b]
domain = "b.example"'
    var ANACONDAD_DEFAULT_SITE b
}
case_var_config() {
    file other.toml 'auth_handler = "from-other-file"'
    var ANACONDAD_CONFIG "$HOME/other.toml"
}
case_var_socket() { var ANACONDAD_SOCKET "$HOME/run/by-variable.sock"; }
case_flag_socket() { args --socket "$HOME/run/by-flag.sock"; }
case_theirs_plugin_auth() {
    file ca-theirs.pem ''
    file .anaconda/config.toml "[plugin.auth]
domain = \"theirs.example\"
ssl_verify = \"$HOME/ca-theirs.pem\"
proxy_servers = { http = \"http://p:1\", https = \"http://p:2\" }
api_key = \"sekrit\"
keyring_path = \"~/elsewhere/keyring\"
preferred_token_storage = \"system\"
extra_headers = '{\"X\": \"1\"}'
use_unified_repo_api_key = \"yes\""
}
case_theirs_sites() {
    file .anaconda/config.toml 'default_site = "anaconda.com"
[plugin.auth]
ssl_verify = false
[sites.work]
domain = "work.example"
keyring_path = "/tmp/work-keyring"
preferred_token_storage = "anaconda-keyring"
client_cert = "x"
[sites.cloud]
domain = "anaconda.com"'
}
case_theirs_default_not_a_table() {
    file .anaconda/config.toml 'default_site = "anaconda.com"
[sites.work]
domain = "work.example"'
}
case_client_vars() {
    file alt.toml '[plugin.auth]
domain = "alt.example"'
    var ANACONDA_CONFIG_TOML "~/alt.toml"
    var ANACONDA_AUTH_DOMAIN client.example
    var CONDA_TOKEN_REPO_URL https://client.example/repo/
    var ANACONDA_AUTH_SSL_VERIFY false
    var ANACONDA_AUTH_API_KEY client-key
    var ANACONDA_AUTH_KEYRING_PATH /tmp/client-keyring
    var ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE system
}
case_client_ssl_verify_bundle() { file c.pem ''; var ANACONDA_AUTH_SSL_VERIFY "$HOME/c.pem"; }
case_conflicts() {
    file ca1.pem ''
    file ca2.pem ''
    file .anaconda/config.toml "default_site = \"work\"
[plugin.auth]
domain = \"theirs.example\"
ssl_verify = false
proxy_servers = { https = \"http://theirs:1\" }
[sites.work]
domain = \"work.example\"
ssl_verify = \"$HOME/ca1.pem\"
[sites.lab]
domain = \"lab.example\""
    file .config/anacondad/config.toml "default_site = \"lab\"
ssl_verify = true
ca_bundle = \"$HOME/ca2.pem\"
proxy = \"http://ours:2\"
storage = \"system\"
[sites.work]
repo_url = \"https://work.example/ours/\"
[sites.lab]
ssl_verify = false"
    var ANACONDAD_PROXY http://ourvar:3
    var ANACONDAD_STORAGE file
    var ANACONDAD_DEFAULT_SITE work
    var ANACONDA_AUTH_DOMAIN https://lab.example
    var ANACONDA_AUTH_SSL_VERIFY 1
}
case_last_login() {
    file .local/state/anacondad/site.json '{"domain": "login.example", "repo_url": "https://login.example/r/", "ssl_verify": false, "proxy": ""}'
}
case_last_login_under_theirs() {
    case_last_login
    file .anaconda/config.toml '[plugin.auth]
domain = "theirs.example"'
}
# Bad values: the daemon refuses to start and says why.
case_bad_var_number() { var ANACONDAD_KEYCHAIN_TIMEOUT_SECS abc; }
case_bad_var_zero() { var ANACONDAD_COMMAND_TIMEOUT_SECS 0; }
case_bad_var_port() { var ANACONDAD_BROWSER_LOGIN_PORT 70000; }
case_bad_var_fraction() { var ANACONDAD_REFRESH_LEAD_FRACTION 0.9; }
case_bad_var_storage() { var ANACONDAD_STORAGE vault; }
case_bad_var_export() { var ANACONDAD_EXPORT conda; }
case_bad_var_preference() { var ANACONDAD_CREDENTIAL_PREFERENCE token; }
case_bad_var_ssl_verify() { var ANACONDAD_SSL_VERIFY maybe; }
case_bad_var_default_site() { var ANACONDAD_DEFAULT_SITE nowhere; file .config/anacondad/config.toml '[sites.a]
domain = "a.example"'; }
case_bad_file_number() { file .config/anacondad/config.toml 'keychain_timeout_secs = "x"'; }
case_bad_file_zero() { file .config/anacondad/config.toml 'command_timeout_secs = 0'; }
case_bad_file_fraction() { file .config/anacondad/config.toml 'refresh_lead_fraction = 0.9'; }
case_bad_file_storage() { file .config/anacondad/config.toml 'storage = "vault"'; }
case_bad_file_unknown_key() { file .config/anacondad/config.toml 'storag = "system"'; }
case_bad_file_type() { file .config/anacondad/config.toml 'ssl_verify = "no"'; }
case_bad_file_export() { file .config/anacondad/config.toml 'export = ["conda"]'; }
case_bad_file_not_toml() { file .config/anacondad/config.toml 'storage = = "x"'; }
case_bad_file_site_key() { file .config/anacondad/config.toml '[sites.lab]
domian = "lab.example"'; }
case_bad_file_duplicate_domain() { file .config/anacondad/config.toml '[sites.a]
domain = "x.example"
[sites.b]
domain = "https://X.example"'; }
case_bad_file_default_site_type() { file .config/anacondad/config.toml 'default_site = 7'; }
case_bad_file_ca_bundle() { file .config/anacondad/config.toml 'ca_bundle = "/nonexistent/ca.pem"'; }
case_bad_theirs_left_out() { file .anaconda/config.toml '[sites.w]
ssl_verify = 7'; }
case_bad_theirs_not_toml() { file .anaconda/config.toml 'not toml = = ='; }

names=$(declare -F | awk '{print $3}' | grep '^case_' | sed 's/^case_//')

run_case() { # BIN_DIR CASE OUT_FILE
    local bin=$1 name=$2 result=$3
    HOME=$(mktemp -d)
    mkdir -p "$HOME/run"
    chmod 700 "$HOME/run"
    local vars=() extra=()
    file() { mkdir -p "$(dirname "$HOME/$1")"; printf '%s\n' "$2" >"$HOME/$1"; }
    var() { vars+=("$1=$2"); }
    args() { extra+=("$@"); }
    "case_$name"
    local base=(env -i "PATH=/usr/bin:/bin" "HOME=$HOME" "XDG_RUNTIME_DIR=$HOME/run" "${vars[@]}")
    {
        for command in "config show" "--json config show" "sites list"; do
            echo "\$ anacondactl $command"
            # shellcheck disable=SC2086
            "${base[@]}" "$bin/anacondactl" "${extra[@]}" $command 2>&1
            echo "(exit $?)"
        done
    } | sed -e "s#$HOME#<HOME>#g" -e 's/pid [0-9]*/pid <PID>/g' \
            -e 's/"pid": *[0-9]*/"pid": <PID>/g' -e 's/unreadable-[0-9]*/unreadable-<T>/g' \
            -e 's#/tmp/tmp\.[A-Za-z0-9]*#<HOME>#g' >"$result"
    "${base[@]}" "$bin/anacondactl" "${extra[@]}" daemon stop >/dev/null 2>&1
    rm -rf "$HOME"
}

differs=0
for name in $names; do
    run_case "$before" "$name" "$out/$name.before"
    run_case "$after" "$name" "$out/$name.after"
    if cmp -s "$out/$name.before" "$out/$name.after"; then
        echo "same     $name"
    else
        echo "differs  $name"
        diff -u "$out/$name.before" "$out/$name.after" | sed 's/^/    /'
        differs=1
    fi
done
echo "outputs in $out"
exit $differs
