package archive

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
)

// members yields an archive's members in order, each with a reader of
// its contents that stays valid until the next call.
type members interface {
	next() (*tar.Header, io.Reader, error)
	close()
}

// directMembers reads the archive on the caller's thread.
type directMembers struct{ tr *tar.Reader }

func (d directMembers) next() (*tar.Header, io.Reader, error) {
	hdr, err := d.tr.Next()
	return hdr, d.tr, err
}

func (directMembers) close() {}

// aheadMembers reads the archive on a goroutine of its own. Unpacking a
// cache is mostly parsing tar headers (and inflating the stream) on one
// thread while workers create the files; the parsing can run beside the
// checks and directory creation of the members before it instead of
// between them. Contents up to aheadInMemory are read into memory; a
// larger member is read in place, and the reader waits for the caller
// to be done with it.
type aheadMembers struct {
	items   chan aheadItem
	stop    chan struct{}
	resume  chan struct{} // the caller is done with a member read in place
	inPlace bool          // the last member handed out is read in place
}

type aheadItem struct {
	hdr     *tar.Header
	body    io.Reader
	inPlace bool
	err     error
}

const aheadInMemory = 64 << 10 // with 512 members queued, at most 32 MiB in memory

var noContents = bytes.NewReader(nil)

func newAheadMembers(tr *tar.Reader) *aheadMembers {
	a := &aheadMembers{items: make(chan aheadItem, 512), stop: make(chan struct{}), resume: make(chan struct{})}
	go func() {
		for {
			hdr, err := tr.Next()
			it := aheadItem{hdr: hdr, body: noContents, err: err}
			if err == nil && hdr.Size > 0 && hdr.Typeflag == tar.TypeReg {
				if hdr.Size <= aheadInMemory {
					b := make([]byte, hdr.Size)
					if _, err := io.ReadFull(tr, b); err != nil {
						it.err = cutShort(hdr.Name, err)
					}
					it.body = bytes.NewReader(b)
				} else {
					it.body, it.inPlace = tr, true
				}
			}
			select {
			case a.items <- it:
			case <-a.stop:
				return
			}
			if it.err != nil {
				return
			}
			if it.inPlace {
				select {
				case <-a.resume:
				case <-a.stop:
					return
				}
			}
		}
	}()
	return a
}

func (a *aheadMembers) next() (*tar.Header, io.Reader, error) {
	if a.inPlace {
		a.inPlace = false
		a.resume <- struct{}{}
	}
	it := <-a.items
	a.inPlace = it.inPlace
	return it.hdr, it.body, it.err
}

// close ends the reading goroutine; the archive is not read further.
func (a *aheadMembers) close() { close(a.stop) }

// cutShort says that an archive ends inside a member's contents.
func cutShort(name string, err error) error {
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return fmt.Errorf("%q is cut short: the archive ends inside it", name)
	}
	return err
}
