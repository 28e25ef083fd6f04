package ctl

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/ezfs/ezfs/internal/nsexec"
)

func TestBundleSpec(t *testing.T) {
	for _, tc := range []struct {
		net     string
		network bool
	}{{nsexec.NetHost, false}, {nsexec.NetNone, true}} {
		s := bundleSpec(nsexec.Spec{Root: "/vz/root/101", Hostname: "web1", Args: []string{"/bin/sh"}, Env: ctEnv("101"), Net: tc.net})
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back struct {
			Root     struct{ Path string }
			Hostname string
			Mounts   []struct{ Destination string }
			Linux    struct{ Namespaces []struct{ Type string } }
		}
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		if back.Root.Path != "/vz/root/101" || back.Hostname != "web1" {
			t.Errorf("root %q hostname %q", back.Root.Path, back.Hostname)
		}
		var ns, mounts []string
		for _, n := range back.Linux.Namespaces {
			ns = append(ns, n.Type)
		}
		for _, m := range back.Mounts {
			mounts = append(mounts, m.Destination)
		}
		for _, want := range []string{"pid", "ipc", "uts", "mount"} {
			if !slices.Contains(ns, want) {
				t.Errorf("--net %s: no %s namespace in %v", tc.net, want, ns)
			}
		}
		if slices.Contains(ns, "network") != tc.network {
			t.Errorf("--net %s: namespaces %v", tc.net, ns)
		}
		for _, want := range []string{"/proc", "/sys", "/dev", "/dev/pts", "/dev/shm"} {
			if !slices.Contains(mounts, want) {
				t.Errorf("no %s mount in %v", want, mounts)
			}
		}
	}
}
