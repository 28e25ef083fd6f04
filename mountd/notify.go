package mountd

import (
	"net"
	"os"
)

// notify sends a state line to systemd (Type=notify) when it asked for
// one through NOTIFY_SOCKET; otherwise it does nothing.
func notify(state string) {
	sock := os.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		return
	}
	if sock[0] == '@' {
		sock = "\x00" + sock[1:] // abstract namespace
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	c.Write([]byte(state))
}

func notifyReady() { notify("READY=1") }
