package embed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// maxResponseBytes bounds the size of an embeddings answer that HTTP reads.
const maxResponseBytes = 64 << 20

// maxMessageBytes bounds how much of an error answer goes into an error.
const maxMessageBytes = 512

// HTTP is a client of an OpenAI-compatible embeddings endpoint. It is safe
// for concurrent use.
//
// Sluice's own endpoint adds its identity to each answer ("embedder":
// {"name", "dim", "version"}); HTTP reports the last one it received. Until
// then, or with an endpoint that never says (another OpenAI-compatible
// server), its identity is the configured model and dimension with an
// unknown version.
type HTTP struct {
	url      string
	model    string
	dim      int
	token    string
	client   *http.Client
	reported atomic.Pointer[Identity]
}

var _ Embedder = (*HTTP)(nil)

// NewHTTP returns a client that POSTs to url, the full endpoint URL (e.g.
// http://127.0.0.1:8084/v1/embeddings), asking for model's embeddings, which
// must have dim components. A non-empty token is sent as "Authorization:
// Bearer <token>" (Sluice's internal credential). A nil client means
// http.DefaultClient; deadlines come from the client's Timeout and the context
// passed to Embed.
func NewHTTP(url, model string, dim int, token string, client *http.Client) *HTTP {
	if client == nil {
		client = http.DefaultClient
	}
	return &HTTP{url: url, model: model, dim: dim, token: token, client: client}
}

// Identity returns the identity the endpoint last reported, else
// Identity{Name: model, Dim: dim} (version unknown).
func (h *HTTP) Identity() Identity {
	if reported := h.reported.Load(); reported != nil {
		return *reported
	}
	return Identity{Name: h.model, Dim: h.dim}
}

type embeddingsRequest struct {
	Input []string `json:"input"`
	Model string   `json:"model"`
}

type embeddingsResponse struct {
	Data []struct {
		Embedding []float32 `json:"embedding"`
		Index     *int      `json:"index"`
	} `json:"data"`
	Model string `json:"model"`
	// Embedder is Sluice's addition to the OpenAI shape; other servers omit it.
	Embedder *Identity `json:"embedder"`
}

// Embed sends all texts in one request and returns their vectors in the order
// of texts. Network errors, timeouts and 429 or 5xx answers wrap
// ErrUnavailable; other error answers and malformed answers (wrong count,
// wrong dimension, bad indexes, an embedder of another name or dimension than
// the configured model's) wrap ErrBadResponse. If ctx is cancelled the error
// wraps context.Canceled but not ErrUnavailable; an expired ctx deadline
// is a timeout.
func (h *HTTP) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return [][]float32{}, nil
	}
	body, err := json.Marshal(embeddingsRequest{Input: texts, Model: h.model})
	if err != nil {
		return nil, fmt.Errorf("embed: encoding the request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}

	resp, err := h.client.Do(req)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, transportError(ctx, err)
	}
	if len(raw) > maxResponseBytes {
		return nil, fmt.Errorf("%w: answer larger than %d bytes", ErrBadResponse, maxResponseBytes)
	}

	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests || code >= 500:
		return nil, fmt.Errorf("%w: %s: %s", ErrUnavailable, resp.Status, errorMessage(raw))
	case code < 200 || code > 299:
		return nil, fmt.Errorf("%w: %s: %s", ErrBadResponse, resp.Status, errorMessage(raw))
	}
	return h.decode(raw, len(texts))
}

// decode checks an embeddings answer for n texts and orders it by index.
func (h *HTTP) decode(raw []byte, n int) ([][]float32, error) {
	var answer embeddingsResponse
	if err := json.Unmarshal(raw, &answer); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if reported := answer.Embedder; reported != nil && (reported.Name != h.model || reported.Dim != h.dim) {
		return nil, fmt.Errorf("%w: the endpoint serves embedder %+v, not the configured model %q of dimension %d",
			ErrBadResponse, *reported, h.model, h.dim)
	}
	if len(answer.Data) != n {
		return nil, fmt.Errorf("%w: %d embeddings for %d texts", ErrBadResponse, len(answer.Data), n)
	}
	out := make([][]float32, n)
	for _, d := range answer.Data {
		if d.Index == nil {
			return nil, fmt.Errorf("%w: an embedding without index", ErrBadResponse)
		}
		i := *d.Index
		if i < 0 || i >= n {
			return nil, fmt.Errorf("%w: index %d out of range [0, %d)", ErrBadResponse, i, n)
		}
		if out[i] != nil {
			return nil, fmt.Errorf("%w: index %d repeated", ErrBadResponse, i)
		}
		if len(d.Embedding) != h.dim {
			return nil, fmt.Errorf("%w: embedding %d has %d components, want %d",
				ErrBadResponse, i, len(d.Embedding), h.dim)
		}
		out[i] = d.Embedding
	}
	if answer.Embedder != nil {
		h.reported.Store(answer.Embedder)
	}
	return out, nil
}

// transportError classifies an error of sending the request or reading the
// answer.
func transportError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("embed: %w", context.Canceled)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// errorMessage extracts the message of an error answer: the OpenAI form
// {"error": {"message": ...}}, or {"error": "..."}, {"message": "..."},
// {"detail": "..."}, or else the body itself, shortened.
func errorMessage(raw []byte) string {
	var body struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(raw, &body) == nil {
		var nested struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(body.Error, &nested) == nil && nested.Message != "":
			return shorten(nested.Message)
		case json.Unmarshal(body.Error, &s) == nil && s != "":
			return shorten(s)
		case body.Message != "":
			return shorten(body.Message)
		case json.Unmarshal(body.Detail, &s) == nil && s != "":
			return shorten(s)
		case len(body.Detail) > 0:
			return shorten(string(body.Detail))
		}
	}
	if msg := strings.TrimSpace(string(raw)); msg != "" {
		return shorten(msg)
	}
	return "empty answer"
}

// shorten truncates s to maxMessageBytes, on a rune boundary.
func shorten(s string) string {
	if len(s) <= maxMessageBytes {
		return s
	}
	cut := maxMessageBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
