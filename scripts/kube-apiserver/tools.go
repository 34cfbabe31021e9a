//go:build tools

// Package tools pins kube-apiserver and etcd so that `go build k8s.io/kubernetes/cmd/kube-apiserver`
// and `go build go.etcd.io/etcd/server/v3` resolve every dependency from this module's go.mod and
// go.sum (scripts/kube.mjs). k8s.io/kubernetes v1.35.4 requires etcd v3.6.5 itself.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
