#!/usr/bin/env bash
# Install the Debian packages a stage needs, only those missing (idempotent, quiet when done).
#   runtime: what `make serve` needs;  test: what `make test` needs on top (browser, video, fonts).
set -euo pipefail

case "${1:-runtime}" in
  runtime) packages=(python3-venv) ;;
  test) packages=(ffmpeg chromium fonts-noto-cjk) ;;
  *) echo "用法：$0 runtime|test" >&2; exit 2 ;;
esac

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
# python3-venv only matters when the interpreter in use cannot make a virtual environment.
if [[ " ${missing[*]-} " == *" python3-venv "* ]] && python3 -c "import ensurepip, venv" 2>/dev/null; then
  missing=("${missing[@]/python3-venv}")
fi
read -r -a missing <<< "${missing[*]-}"
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "缺少系统软件包：${missing[*]}。请用管理员账户运行：apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "正在安装系统软件包：${missing[*]}（只需一次）"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
