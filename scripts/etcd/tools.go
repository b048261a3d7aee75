//go:build tools

// Package tools pins the main packages that scripts/etcd.sh builds from this wrapper module
// (etcd and etcdctl, at the etcd minor K3s v1.33 embeds). It is never compiled (build tag
// "tools"); it exists so that `go mod tidy` records every dependency in go.mod/go.sum.
package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/server/v3"
)
