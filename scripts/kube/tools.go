//go:build tools

// Package tools pins the main packages that scripts/kube.sh builds from this
// wrapper module. It is never compiled (build tag "tools"); it exists so that
// `go mod tidy` records every dependency in go.mod/go.sum.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
