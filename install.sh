#!/usr/bin/env bash
# Install git-hf-agent from this checkout. Idempotent: safe to re-run.
#   ./install.sh        git-lfs (system package), .venv with the package, git-hf + git-hf-agent on PATH
#   ./install.sh --dev  the same plus the test dependencies
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

dev=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option '$arg' (use --dev or --help)" >&2; exit 2 ;;
  esac
done

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# --- git -------------------------------------------------------------------
command -v git >/dev/null 2>&1 || die "git is required but not found: install it first (e.g. 'apt-get install git', 'brew install git' or 'dnf install git')."

# --- Python >= 3.10 -----------------------------------------------------------
python=""
for cand in "${PYTHON:-}" python3.13 python3.12 python3.11 python3.10 python3; do
  [ -n "$cand" ] || continue
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    python="$(command -v "$cand")"; break
  fi
done
[ -n "$python" ] || die "Python >= 3.10 is required but not found: install it (e.g. 'apt-get install python3 python3-venv') or point PYTHON=/path/to/python3 at one."

# --- git-lfs (system package) -----------------------------------------------
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else die "need root to run: $* (re-run as root or install git-lfs yourself)"; fi; }
if ! command -v git-lfs >/dev/null 2>&1; then
  say "installing git-lfs with the system package manager"
  if command -v apt-get >/dev/null 2>&1; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git-lfs </dev/null
  elif command -v brew >/dev/null 2>&1; then
    brew install git-lfs
  elif command -v dnf >/dev/null 2>&1; then
    as_root dnf install -y git-lfs
  else
    die "git-lfs is required: install it with your package manager (https://git-lfs.com), then re-run ./install.sh"
  fi
fi
command -v git-lfs >/dev/null 2>&1 || die "git-lfs was not installed; install it with your package manager, then re-run ./install.sh"

# --- virtualenv + package ---------------------------------------------------
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  say "creating .venv with $python"
  rm -rf .venv
  "$python" -m venv .venv || die "could not create a virtualenv: install your distribution's venv package (e.g. 'apt-get install python3-venv')"
fi
extra=""; [ "$dev" = 1 ] && extra="[dev]"
say "installing git-hf-agent${extra} into .venv"
log=.venv/install.log
pip_install() {
  .venv/bin/python -m pip install -q --disable-pip-version-check "$@" </dev/null >>"$log" 2>&1 || {
    tail -n 30 "$log" >&2; die "pip install $* failed (full log: $log); check your network access to the package index and re-run"; }
}
: >"$log"
pip_install --upgrade pip
pip_install -e ".${extra}"

# --- put the commands on PATH -------------------------------------------------
if [ "$(id -u)" = 0 ] && [ -w /usr/local/bin ]; then bindir=/usr/local/bin; else bindir="$HOME/.local/bin"; fi
mkdir -p "$bindir"
for cmd in git-hf git-hf-agent; do
  ln -sfn "$here/.venv/bin/$cmd" "$bindir/$cmd"
done
say "linked git-hf and git-hf-agent into $bindir"

# git turns `git hf --help` into `man git-hf`: install a page generated from the same help text.
if [ "$bindir" = /usr/local/bin ]; then mandir=/usr/local/share/man/man1; else mandir="$HOME/.local/share/man/man1"; fi
if mkdir -p "$mandir" 2>/dev/null && .venv/bin/python -m git_hf_agent.cli.manpage >"$mandir/git-hf.1.tmp" 2>>"$log"; then
  mv "$mandir/git-hf.1.tmp" "$mandir/git-hf.1"
else
  rm -f "$mandir/git-hf.1.tmp"; say "note: could not write the man page (git hf --help); 'git hf -h' works anyway"
fi
case ":$PATH:" in
  *":$bindir:"*) ;;
  *) say "note: $bindir is not on your PATH; add it (e.g. echo 'export PATH=\"$bindir:\$PATH\"' >> ~/.bashrc) so 'git hf' works" ;;
esac
say "done: try 'git hf --help'"
