//go:build tools

// Keeps etcd's server (its root package is the etcd main) in the module graph.
package tools

import _ "go.etcd.io/etcd/server/v3"
