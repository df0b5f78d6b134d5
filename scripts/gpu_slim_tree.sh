#!/usr/bin/env bash
# The device tool sends the working tree (tracked files, plus what `carry` names) in at most 64 MiB; the
# shipped model folders (~37 MB) and MiniLM's files in .gpu (45 MB) together are over that. `on` takes the
# model folders and docs a GPU recipe does not read out of git's index and ignores them in .git/info/exclude
# (the files stay on disk; nothing is committed); `off` puts the index and the exclude file back.
#
#   bash scripts/gpu_slim_tree.sh on    # before the device run
#   bash scripts/gpu_slim_tree.sh off   # right after it
set -euo pipefail
cd "$(dirname "$0")/.."
LEFT_OUT=(models/consistency models/fast models/cn-edges models/cn-layout models/classifier-lone models/upscaler docs)
case ${1:-} in
  on)
    for path in "${LEFT_OUT[@]}"; do
      printf "/%s/\n" "$path" >> .git/info/exclude
      git rm -r -q --cached "$path"
    done
    echo "left out of the tree that travels: ${LEFT_OUT[*]}; run 'bash $0 off' after the device run" ;;
  off)
    git reset -q -- "${LEFT_OUT[@]}"
    for path in "${LEFT_OUT[@]}"; do
      grep -v -x -F "/$path/" .git/info/exclude > .git/info/exclude.new || true
      mv .git/info/exclude.new .git/info/exclude
    done
    git status --short -- "${LEFT_OUT[@]}" ;;
  *) echo "usage: $0 on|off" >&2; exit 2 ;;
esac
