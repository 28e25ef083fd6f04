// Package mountd is the daemon that serves every ezfs mount of a node
// from one process, and the client ezctl talks to it with.
//
// # Recovery
//
// The daemon keeps the list of what should be mounted in a state file
// beside its socket, written atomically on every change. Killed (SIGKILL),
// it leaves dead mountpoints ("transport endpoint is not connected"); the
// next start detaches them and mounts them again. SIGTERM unmounts
// everything (lazily where busy) and keeps the list, so that a restart
// brings the same mounts back.
//
// # API
//
// HTTP+JSON on a unix socket only root can open, and the daemon checks
// the peer's credentials (SO_PEERCRED) on every connection:
//
//	GET  /v1/status                          the daemon and its mounts
//	GET  /v1/mounts                          the mounts
//	POST /v1/mounts      {Record}            mount
//	POST /v1/unmount     {mountpoint, lazy}  unmount
//	POST /v1/invalidate  {mountpoint, paths} drop the kernel's caches of paths
//
// Errors are {"error": "...", "code": "..."} with an HTTP status to
// match: not_found 404, already_mounted 409, busy 409, bad_request 400,
// forbidden 403, internal 500.
package mountd
