#!/usr/bin/env bash
# Prints the cluster's kubeconfig with certificates inline, for the Kubernetes provider.
set -euo pipefail

kubectl config view --raw --minify --flatten --context=minikube
