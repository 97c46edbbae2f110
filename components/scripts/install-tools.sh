#!/usr/bin/env bash
# Installs (or upgrades in place) the pinned MiniKube and kubectl on the host: a version bump is this
# step again, not a new host. Each binary is checked against the checksum its publisher serves beside it.
# Usage: install-tools.sh MINIKUBE_VERSION KUBECTL_VERSION
set -euo pipefail

minikube_version="$1"
kubectl_version="$2"

install_binary() {
  local name="$1" url="$2" tmp
  tmp="$(mktemp -d)"
  curl -fsSL --retry 5 -o "$tmp/$name" "$url"
  echo "$(curl -fsSL --retry 5 "$url.sha256" | cut -d' ' -f1)  $tmp/$name" | sha256sum --check --status
  sudo install -m 0755 "$tmp/$name" "/usr/local/bin/$name"
  rm -rf "$tmp"
}

install_binary minikube \
  "https://github.com/kubernetes/minikube/releases/download/${minikube_version}/minikube-linux-amd64"
install_binary kubectl "https://dl.k8s.io/release/${kubectl_version}/bin/linux/amd64/kubectl"
echo "minikube ${minikube_version} and kubectl ${kubectl_version} installed"
