package server

import (
	"net/http"
	"time"
)

// Bounds on what a client may take of the server, whatever it sends.
const (
	// ReadTimeout is the longest a request (line, headers and body) may take to arrive.
	ReadTimeout       = 30 * time.Second
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

// NewHTTPServer is the http.Server for the handler: a request whose headers have not arrived
// within 10 s, or whose body has not arrived within readTimeout, is dropped (an unfinished body
// was held forever before), idle keep-alive connections are closed after two minutes, and the
// request line and headers are at most 64 KiB (431 above).
func NewHTTPServer(address string, handler http.Handler, readTimeout time.Duration) *http.Server {
	return &http.Server{
		Addr:              address,
		Handler:           handler,
		ReadHeaderTimeout: min(readHeaderTimeout, readTimeout),
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}
