package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// consolePolicy is the console's Content-Security-Policy: its own scripts, styles and API only.
const consolePolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// notBuilt is the page of a binary built without the console.
const notBuilt = "<!doctype html><title>Sluice</title><p>The web console is not built into this searchapi: " +
	"run <code>make web</code> (npm ci &amp;&amp; npm run build in searchapi/web), then build searchapi again.</p>\n"

// Console serves the web console's built files: hashed assets cached for a year, index.html
// (for every client-side route) revalidated each time, each file precompressed (.br, .gz) sent
// as the browser accepts. Files nil: the binary was built without the console.
type Console struct {
	files fs.FS
}

// NewConsole serves the files (index.html at the root); nil serves the "not built" page.
func NewConsole(files fs.FS) *Console { return &Console{files: files} }

// apiPath says whether a path belongs to the API, never to the console.
func apiPath(p string) bool {
	return p == "/v1" || strings.HasPrefix(p, "/v1/") || p == "/healthz" || p == "/readyz" || p == "/metrics"
}

func (s *Console) serve(c *gin.Context) {
	header := c.Writer.Header()
	header.Set("Content-Security-Policy", consolePolicy)
	header.Set("Referrer-Policy", "no-referrer")
	header.Set("X-Frame-Options", "DENY")
	header.Set("Cross-Origin-Opener-Policy", "same-origin")
	if s.files == nil {
		header.Set("Cache-Control", "no-cache")
		c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(notBuilt))
		return
	}
	name := strings.TrimPrefix(path.Clean(c.Request.URL.Path), "/")
	if name == "" || name == "index.html" {
		name = "index.html"
	} else if info, err := fs.Stat(s.files, name); err != nil || info.IsDir() {
		// A missing asset, or a file of the root (robots.txt, favicon.ico), is a 404; any other
		// path is a route of the console, whatever its last segment (/documents/notes.md).
		if strings.HasPrefix(name, "assets/") || (!strings.Contains(name, "/") && path.Ext(name) != "") {
			abort(c, newError(http.StatusNotFound, "not_found", "no file "+c.Request.URL.Path))
			return
		}
		name = "index.html" // a client-side route
	}
	if strings.HasPrefix(name, "assets/") {
		header.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		header.Set("Cache-Control", "no-cache")
	}
	contentType := mime.TypeByExtension(path.Ext(name))
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	header.Set("Content-Type", contentType)
	header.Add("Vary", "Accept-Encoding")
	body, encoding, err := s.read(name, c.GetHeader("Accept-Encoding"))
	if err != nil {
		abort(c, newError(http.StatusNotFound, "not_found", "no file "+c.Request.URL.Path))
		return
	}
	if encoding != "" {
		header.Set("Content-Encoding", encoding)
	}
	sum := sha256.Sum256(body)
	header.Set("ETag", `"`+hex.EncodeToString(sum[:12])+`"`)
	http.ServeContent(c.Writer, c.Request, "", time.Time{}, bytes.NewReader(body))
}

// read returns the file, precompressed in the best encoding the client accepts when there is
// such a copy (brotli, then gzip), and that encoding ("" for none).
func (s *Console) read(name, acceptEncoding string) ([]byte, string, error) {
	for _, candidate := range []struct{ encoding, suffix string }{{"br", ".br"}, {"gzip", ".gz"}} {
		if accepts(acceptEncoding, candidate.encoding) {
			if body, err := fs.ReadFile(s.files, name+candidate.suffix); err == nil {
				return body, candidate.encoding, nil
			}
		}
	}
	body, err := fs.ReadFile(s.files, name)
	return body, "", err
}

// accepts says whether an Accept-Encoding header accepts the encoding (not with q=0).
func accepts(header, encoding string) bool {
	for _, part := range strings.Split(header, ",") {
		token, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(token), encoding) {
			continue
		}
		quality, found := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if !found {
			return true
		}
		q, err := strconv.ParseFloat(quality, 64)
		return err == nil && q > 0
	}
	return false
}
