package mountinfo

import "testing"

func TestParseLine(t *testing.T) {
	m, err := parseLine(`36 35 98:0 / /vz/root/1\040x rw,nosuid - fuse.ezfs /vz/private/1 rw,user_id=0`)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != 36 || m.Point != "/vz/root/1 x" || m.FSType != EzfsType || m.Source != "/vz/private/1" ||
		m.Options != "rw,nosuid" || m.SuperOptions != "rw,user_id=0" {
		t.Errorf("got %+v", m)
	}
	if _, err := parseLine("garbage"); err == nil {
		t.Error("malformed line accepted")
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add(`36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`)
	f.Add(`1 2 3:4 / /a\134b rw - fuse.ezfs src\040x rw`)
	f.Fuzz(func(t *testing.T, line string) {
		parseLine(line)
	})
}
