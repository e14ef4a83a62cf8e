#!/usr/bin/env bash
# Install the Debian packages a stage needs, only those missing (idempotent, quiet when done).
#   runtime: what `make serve` needs. python3-venv is required; ffmpeg (videos), LibreOffice
#            (Office previews, old .doc/.ppt) and CJK fonts (Chinese in those previews) are
#            installed when possible, and the build says what is missing when they are not.
#   test:    everything, plus Debian's chromium for the browser tests; all required.
#   print:   chromium and CJK fonts, to print briefings as PDF.
set -euo pipefail

media=(ffmpeg libreoffice-writer-nogui libreoffice-impress-nogui fonts-noto-cjk)
case "${1:-runtime}" in
  runtime) required=(python3-venv); optional=("${media[@]}") ;;
  test) required=("${media[@]}" chromium); optional=() ;;
  print) required=(chromium fonts-noto-cjk); optional=() ;;
  *) echo "用法：$0 runtime|test|print" >&2; exit 2 ;;
esac

missing_of() {
  local package
  for package in "$@"; do
    [ -n "$package" ] || continue
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || echo "$package"
  done
}

# python3-venv only matters when the interpreter in use cannot make a virtual environment.
if python3 -c "import ensurepip, venv" 2>/dev/null; then
  required=("${required[@]/python3-venv}")
fi
mapfile -t need < <(missing_of ${required[@]+"${required[@]}"})
mapfile -t want < <(missing_of ${optional[@]+"${optional[@]}"})
[ "${#need[@]}" -eq 0 ] && [ "${#want[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  if [ "${#need[@]}" -gt 0 ]; then
    echo "缺少必需的系统软件包：${need[*]}。请用管理员账户运行：apt-get install ${need[*]}" >&2
    exit 1
  fi
  echo "提示：未安装 ${want[*]}（视频转码、Office 预览需要），网站仍可生成。管理员可运行：apt-get install ${want[*]}" >&2
  exit 0
fi

install() {
  # LibreOffice's recommends bring a Java runtime the headless converter never uses; the other
  # packages (chromium, ffmpeg, fonts) are installed as Debian recommends them.
  local office=() other=() package
  for package in "$@"; do
    case "$package" in libreoffice-*) office+=("$package") ;; *) other+=("$package") ;; esac
  done
  if [ "${#other[@]}" -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${other[@]}" >/dev/null
  fi
  if [ "${#office[@]}" -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${office[@]}" >/dev/null
  fi
}
echo "正在安装系统软件包：${need[*]} ${want[*]}（只需一次）"
"${sudo[@]}" apt-get update -qq
[ "${#need[@]}" -eq 0 ] || install "${need[@]}"
if [ "${#want[@]}" -gt 0 ] && ! install "${want[@]}"; then
  echo "提示：${want[*]} 安装失败，网站仍可生成，但视频转码或 Office 预览不可用。" >&2
fi
