#!/bin/sh
# GitWeave Runner post-receive hook for a bare git repository, in POSIX sh:
# tells the API about every updated ref, which starts the pipelines whose
# `on: push` and branch filter match, and prints the ids of the runs it
# started. The fallback for hosts without gitweave-hook (the program that
# docs/examples/git-hooks/post-receive runs), which does the same without
# starting sh, git or curl before its POST.
#
# Install (as the user that owns the repository; needs curl and jq):
#   install -m 755 post-receive.sh /srv/git/app.git/hooks/post-receive
#   chmod 600 /srv/git/app.git/config
#   git -C /srv/git/app.git config gitweave.url http://127.0.0.1:8080
#   git -C /srv/git/app.git config gitweave.repo app        # default: the folder name without .git
# and, when the API has GITWEAVE_API_TOKEN, the token in a file only you can
# read (printf is a shell builtin: the token is on no command line):
#   (umask 077; printf '%s\n' "$GITWEAVE_API_TOKEN" >/srv/git/app.git/gitweave-token)
#   git -C /srv/git/app.git config gitweave.tokenfile /srv/git/app.git/gitweave-token
# GITWEAVE_URL, GITWEAVE_REPO, GITWEAVE_API_TOKEN_FILE and GITWEAVE_API_TOKEN
# in the environment take precedence. A token in the git config itself
# (gitweave.token) is used only when the config is readable by its owner
# alone; a token file must be too.
#
# The token reaches curl in its config on its stdin (-K -, a here-document:
# a pipe the shell writes; bash before 5.1 uses a 0600 file it unlinks at
# once), never on a command line, where every local user could read it in
# /proc/*/cmdline, and never in a file of the hook's. The JSON body
# is built by shell builtins, with every " and \ of a ref name escaped, so
# any ref name git accepts is sent as it is.
#
# Before its POST the hook starts git once (its settings) and then curl, and
# nothing else unless it must: stat for a token file's mode, git rev-parse
# for the commit of an annotated tag. What it prints after the POST (jq) does
# not delay the run.
#
# A push never fails because of this hook (git has already stored it). When
# the API cannot be reached or answers 502/503/504, the hook tries again with
# back-off (1, 2, 4, 8, 8... s) for at most gitweave.retryseconds (or
# GITWEAVE_HOOK_RETRY_SECONDS; default 30) in all, counted from the first
# failed try, then prints an error with the exact command that replays the
# push once the API is back, and exits 1.

umask 077
say() { printf 'gitweave: %s\n' "$*" >&2; }
nl='
'

# private_file PATH: whether only the owner may read PATH.
private_file() {
    case $(stat -L -c %a "$1" 2>/dev/null) in
    [0-7]00) return 0 ;;
    *) return 1 ;;
    esac
}

# quote VALUE: sets q to VALUE in double quotes with a \ before each " and
# \: a JSON string (for text without control characters) and a value of
# curl's config alike. Shell builtins only.
quote() {
    q= rest=$1
    while :; do
        case $rest in
        *[\\\"]*) ;;
        *) break ;;
        esac
        pre=${rest%%[\\\"]*}
        rest=${rest#"$pre"}
        q=$q$pre\\${rest%"${rest#?}"}
        rest=${rest#?}
    done
    q=\"$q$rest\"
}

# The settings, read by one git: "key value" lines (the last of a key wins,
# as for git config KEY).
conf_url= conf_retry= conf_repo= conf_tokenfile= conf_token= has_conf_token=
settings=$(git config --get-regexp '^gitweave\.')
while IFS= read -r line; do
    key=${line%%" "*}
    value=${line#"$key"}
    value=${value#" "}
    case $key in
    gitweave.url) conf_url=$value ;;
    gitweave.retryseconds) conf_retry=$value ;;
    gitweave.repo) conf_repo=$value ;;
    gitweave.tokenfile) conf_tokenfile=$value ;;
    gitweave.token) conf_token=$value has_conf_token=1 ;;
    esac
done <<EOF
$settings
EOF

url=${GITWEAVE_URL:-$conf_url}
retry=${GITWEAVE_HOOK_RETRY_SECONDS:-$conf_retry}
retry=${retry:-30}
case $retry in
'' | *[!0-9]*) say "gitweave.retryseconds \"$retry\" is not a number of seconds; using 30"; retry=30 ;;
esac
repo=${GITWEAVE_REPO:-$conf_repo}
if [ -z "$repo" ]; then
    repo=${PWD##*/}
    repo=${repo%.git}
fi
if [ -z "$url" ]; then
    say "gitweave.url is not configured; no pipeline started"
    exit 0
fi
for tool in curl jq; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        say "$tool is not installed; no pipeline started"
        exit 0
    fi
done

# The token, read by shell builtins only.
token=${GITWEAVE_API_TOKEN:-}
if [ -z "$token" ]; then
    tokenfile=${GITWEAVE_API_TOKEN_FILE:-$conf_tokenfile}
    if [ -n "$tokenfile" ]; then
        if ! private_file "$tokenfile"; then
            say "token file \"$tokenfile\" is missing or readable by others (chmod 600 it); no pipeline started"
            exit 0
        fi
        IFS= read -r token <"$tokenfile"
    fi
fi
if [ -z "$token" ] && [ -n "$has_conf_token" ]; then
    config=$(git rev-parse --git-path config)
    if ! private_file "$config"; then
        say "gitweave.token is in \"$config\", which is readable by others;" \
            "chmod 600 it or use gitweave.tokenfile; no pipeline started"
        exit 0
    fi
    token=$conf_token
fi
conf_token=
auth=
if [ -n "$token" ]; then
    quote "Authorization: Bearer $token"
    auth="header = $q"
fi
quote "$url/api/v1/repos/$repo/hooks/push"
endpoint=$q

# post: POST $body to the endpoint; sets code (000 when nothing answered)
# and reply (the API's answer; curl's error when nothing answered). Tries
# again with back-off while the API is unreachable or overloaded, until the
# deadline shared by every ref, set by the first failed try.
deadline=
post() {
    wait=1
    quote "$body"
    while :; do
        reply=$(curl -sS -m 10 -K - -w '\n%{http_code}' 2>&1 <<EOF
url = $endpoint
header = "Content-Type: application/json"
$auth
data-binary = $q
EOF
        )
        code=${reply##*"$nl"}
        reply=${reply%"$nl"*}
        case $code in
        [0-9][0-9][0-9]) ;;
        *) code=000 ;;
        esac
        case $code in
        000 | 502 | 503 | 504) ;;
        *) return ;;
        esac
        now=$(date +%s)
        deadline=${deadline:-$((now + retry))}
        left=$((deadline - now))
        [ "$left" -le 0 ] && return
        [ "$wait" -gt "$left" ] && wait=$left
        err=
        [ "$code" = 000 ] && err="${reply%%"$nl"*} "
        say "$ref: the API did not answer (${err}HTTP $code); trying again in ${wait}s"
        sleep "$wait"
        [ "$wait" -lt 8 ] && wait=$((wait * 2))
    done
}

lost=
while read -r before after ref; do
    case $before$after in
    *[!0-9a-f]*)
        say "$ref: \"$before $after\" are not two object names; skipped"
        continue ;;
    esac
    case $ref in
    *[[:cntrl:]]*)
        say "a ref name with a control character is not one git makes; skipped"
        continue ;;
    esac
    # An annotated tag points to a tag object: the run builds its commit.
    case $ref in
    refs/tags/*) after=$(git rev-parse -q --verify "$after^{commit}" 2>/dev/null || echo "$after") ;;
    esac
    quote "$ref"
    body="{\"ref\": $q, \"before\": \"$before\", \"after\": \"$after\"}"
    post
    case $code in
    200 | 201)
        printf '%s' "$reply" | jq -r --arg url "$url" --arg ref "$ref" '
            "gitweave: \($ref): \(.runs | length) pipeline run(s) started",
            (.runs[] | "gitweave:   run \(.id) (\(.template // "?")) \($url)/runs/\(.id)"),
            ((.templates // [])[] | select(.started | not) |
                "gitweave:   \(.template): not started (\(.reason)\(if .detail then ": " + .detail else "" end))"),
            ((.warnings // [])[] | "gitweave:   warning: \(.) (the run waits for one)")' >&2 ;;
    000 | 502 | 503 | 504)
        lost="$lost$before $after $ref
" ;;
    *)
        detail=$(printf '%s' "$reply" | jq -r '"\(.error): \(.detail)"' 2>/dev/null) ||
            detail=${reply%%"$nl"*}
        say "$ref: the API answered $code: $detail" ;;
    esac
done
if [ -n "$lost" ]; then
    # The replay is this hook again, fed the same lines, from the repository.
    dir=$(cd "$(git rev-parse --git-dir)" && pwd)
    hook=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
    lines=$(printf '%s' "$lost" | jq -R . | jq -rs 'map(@sh) | join(" ")')
    say "ERROR: the API at $url could not be reached for ${retry}s; no pipeline started for:"
    printf '%s' "$lost" | while read -r _ _ ref; do say "  $ref"; done
    say "when the API is back, run by hand:"
    say "  cd $(jq -rn --arg d "$dir" '$d | @sh') && printf '%s\\n' $lines | $(jq -rn --arg h "$hook" '$h | @sh')"
    exit 1
fi
exit 0
