"""One Pulumi ComponentResource per concern; each takes plain values and, on the cluster, a provider."""
