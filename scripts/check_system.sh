#!/usr/bin/env bash
# Checks the system libraries MuJoCo's offscreen (EGL) rendering needs; says exactly what to install if not.
# With CI=true and root, installs them (CI machines start bare); elsewhere it only tells.
set -u
packages="libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri libglx-mesa0"
missing=""
ldconfig -p 2>/dev/null | grep -q 'libEGL.so.1' || missing="$missing libEGL.so.1"
ldconfig -p 2>/dev/null | grep -q 'libGL.so.1' || missing="$missing libGL.so.1"
ls /usr/share/glvnd/egl_vendor.d/*mesa*.json >/dev/null 2>&1 || missing="$missing mesa-egl-vendor"
[ -z "$missing" ] && exit 0
if [ "${CI:-}" = "true" ] && [ "$(id -u)" = "0" ]; then
  echo "check_system: missing$missing; installing $packages" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null && exit 0
fi
echo "check_system: MuJoCo offscreen rendering needs EGL + Mesa (missing:$missing)." >&2
echo "  Debian/Ubuntu: sudo apt-get install -y $packages" >&2
exit 1
