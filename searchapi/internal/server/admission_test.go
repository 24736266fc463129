package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"sluice.dev/searchapi/internal/metrics"
	"sluice.dev/searchapi/internal/search"
)

// blockingService answers a search only once released, telling when one has started.
type blockingService struct {
	Service
	started chan struct{}
	release chan struct{}
}

func (b *blockingService) Search(ctx context.Context, req search.Request) (*search.Response, error) {
	b.started <- struct{}{}
	select {
	case <-b.release:
		return &search.Response{Mode: req.Mode, K: 10}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestRequestsBeyondTheLimitAreRefusedAsOverloadedAfterTheirWait(t *testing.T) {
	service := &blockingService{started: make(chan struct{}, 4), release: make(chan struct{})}
	handler := New(Deps{
		Service: service, Keys: NewKeys(nil), Metrics: metrics.New(),
		Log:       slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Timeout:   10 * time.Second,
		Admission: NewAdmission(2, 50*time.Millisecond),
	})
	serve := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/search?q=q", nil))
		return rec
	}
	admitted := make(chan *httptest.ResponseRecorder, 2)
	for range 2 {
		go func() { admitted <- serve() }()
		<-service.started
	}

	refused := serve() // both slots are held: it waits 50 ms, then is refused
	if refused.Code != http.StatusServiceUnavailable || refused.Header().Get("Retry-After") != "1" {
		t.Fatalf("beyond the limit: %d, Retry-After %q", refused.Code, refused.Header().Get("Retry-After"))
	}
	if body := refused.Body.String(); !strings.Contains(body, `"code":"overloaded"`) {
		t.Fatalf("body %s", body)
	}
	health := httptest.NewRecorder()
	handler.ServeHTTP(health, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if health.Code != http.StatusOK {
		t.Fatalf("/healthz is not subject to the limit: %d", health.Code)
	}

	close(service.release)
	for range 2 {
		if rec := <-admitted; rec.Code != http.StatusOK {
			t.Fatalf("an admitted request: %d %s", rec.Code, rec.Body.String())
		}
	}
	if rec := serve(); rec.Code != http.StatusOK { // the slots were given back
		t.Fatalf("after the others finished: %d %s", rec.Code, rec.Body.String())
	}
}

func TestARequestWithoutAKeyTakesNoSlot(t *testing.T) {
	service := &blockingService{started: make(chan struct{}, 1), release: make(chan struct{})}
	handler := New(Deps{
		Service: service, Keys: NewKeys(map[string]string{"k1": "acme"}), Metrics: metrics.New(),
		Log:     slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Timeout: 10 * time.Second, Admission: NewAdmission(1, 10*time.Millisecond),
	})
	done := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/v1/search?q=q", nil)
		req.Header.Set("Authorization", "Bearer k1")
		handler.ServeHTTP(rec, req)
		done <- rec.Code
	}()
	<-service.started
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/search?q=q", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("without a key, with every slot held: %d (want the 401, not overloaded)", rec.Code)
	}
	close(service.release)
	if code := <-done; code != http.StatusOK {
		t.Fatalf("the admitted request: %d", code)
	}
}
