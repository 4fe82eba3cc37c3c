//go:build tools

// Package tools pins the Pulumi CLI this project builds; see build.sh.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
