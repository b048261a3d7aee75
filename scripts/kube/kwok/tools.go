//go:build tools

// Package tools pins the kwok main package that scripts/kube.sh builds. kwok is a
// module of its own (its client libraries are newer than the API it simulates
// nodes for, as a kubelet's may be), so it gets its own wrapper.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
