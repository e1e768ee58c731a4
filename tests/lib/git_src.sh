# gw_git_src: a bare repo to clone from, $GW_TMP/src.git, and a working
# clone of it, $GW_TMP/clone, with an identity to commit as. Push with
# `gw_git_push`.
gw_git_src() {
    git init -q --bare -b main "$GW_TMP/src.git" &&
        git init -q -b main "$GW_TMP/clone" &&
        git -C "$GW_TMP/clone" config user.email test@example.com &&
        git -C "$GW_TMP/clone" config user.name test
}
gw_git_push() { git -C "$GW_TMP/clone" push -q "$GW_TMP/src.git" main; }

# gw_hooked_repo REPO BARE TEMPLATE...: a bare repository BARE with the
# post-receive hook (gitweave-hook) set up as the README installs it (the API's URL,
# the repo's name, the token file; config 0600), registered as REPO with
# BARE as its clone URL and each TEMPLATE attached. $(status) is the last
# attach's HTTP status. Needs API_ROOT and $GW_TMP/api-token
# (gw_api_start_token).
gw_hooked_repo() {
    local repo=$1 bare=$2 t
    shift 2
    git init -q --bare -b main "$bare"
    ln -s "$GW_BUILD_DIR/gitweave-hook" "$bare/hooks/post-receive"
    chmod 600 "$bare/config"
    git -C "$bare" config gitweave.url "$API_ROOT"
    git -C "$bare" config gitweave.repo "$repo"
    git -C "$bare" config gitweave.tokenfile "$GW_TMP/api-token"
    api PUT "/repos/$repo" -H 'Content-Type: application/json' -d "{\"clone_url\": \"$bare\"}" >/dev/null
    for t in "$@"; do
        api PUT "/repos/$repo/templates/$t" >/dev/null
    done
}
