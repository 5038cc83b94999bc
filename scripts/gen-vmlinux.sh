#!/usr/bin/env bash
# Regenerates bpf/vmlinux/<arch>/vmlinux.h from the running kernel's BTF. The header is checked in;
# the build never regenerates it. Run on a kernel with CONFIG_DEBUG_INFO_BTF=y after a kernel bump
# that BPF programs need types from (CO-RE relocates field offsets at load time either way).
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-$(uname -m)}
case "$arch" in
  x86_64|x86) arch=x86 ;;
  aarch64|arm64) arch=arm64 ;;
  *) echo "gen-vmlinux: unsupported arch $arch" >&2; exit 1 ;;
esac
btf=${BTF:-/sys/kernel/btf/vmlinux}
if [[ ! -r $btf ]]; then
  echo "gen-vmlinux: no BTF at $btf: this kernel was built without CONFIG_DEBUG_INFO_BTF" >&2
  exit 1
fi
command -v bpftool >/dev/null || { echo "gen-vmlinux: bpftool not installed (apt-get install bpftool)" >&2; exit 1; }
mkdir -p "bpf/vmlinux/$arch"
out="bpf/vmlinux/$arch/vmlinux.h"
bpftool btf dump file "$btf" format c > "$out.tmp"
mv "$out.tmp" "$out"
echo "gen-vmlinux: wrote $out ($(wc -l < "$out") lines) from $btf ($(uname -r))"
