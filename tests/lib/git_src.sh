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
