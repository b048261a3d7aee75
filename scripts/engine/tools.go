//go:build tools

// Package tools pins the main packages that scripts/engine.sh builds from this
// wrapper module. It is never compiled (build tag "tools"); it exists so that
// `go mod tidy` records every dependency in go.mod/go.sum.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
