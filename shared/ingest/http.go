package ingest

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// HandleAPIGateway serves an API Gateway HTTP API (payload v2) request for the route
// POST /webhooks/{source}, or a Lambda Function URL request (the same payload, no
// route: the source is taken from the path /webhooks/{source}).
func (s *Service) HandleAPIGateway(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			return apiResponse(refuse(http.StatusBadRequest, "bad_encoding", "body is not valid base64")), nil
		}
		body = b
	}
	headers := req.Headers
	if !lowerKeys(headers) {
		headers = make(map[string]string, len(req.Headers))
		for k, v := range req.Headers {
			headers[strings.ToLower(k)] = v
		}
	}
	method := req.RequestContext.HTTP.Method
	source, ok := req.PathParameters["source"]
	if !ok {
		// A Lambda Function URL sends the same payload (version 2.0) without a route:
		// the source comes from the path itself.
		if source, ok = sourceFromPath(req.RawPath); !ok {
			return apiResponse(refuse(http.StatusNotFound, OutcomeUnknownSource, "no such path; webhooks are POSTed to /webhooks/{source}")), nil
		}
	}
	res := s.serve(ctx, Request{Method: method, Source: source, Headers: headers, Body: body})
	if res.Body == nil {
		return events.APIGatewayV2HTTPResponse{StatusCode: res.Status, Headers: jsonHeaders, Body: acceptedBody(res.ID)}, nil
	}
	return apiResponse(res), nil
}

// sourceFromPath returns {source} of a path /webhooks/{source} (one trailing slash
// allowed), and false for any other path.
func sourceFromPath(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/webhooks/")
	if !ok {
		return "", false
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" || strings.Contains(rest, "/") {
		return "", false
	}
	return rest, true
}

func lowerKeys(m map[string]string) bool {
	for k := range m {
		for i := 0; i < len(k); i++ {
			if c := k[i]; 'A' <= c && c <= 'Z' {
				return false
			}
		}
	}
	return true
}

var jsonHeaders = map[string]string{"content-type": "application/json"}

func apiResponse(r Result) events.APIGatewayV2HTTPResponse {
	h := jsonHeaders
	if r.ContentType != "" {
		h = map[string]string{"content-type": r.ContentType}
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: r.Status, Headers: h, Body: string(r.Body)}
}

// Handler serves POST /webhooks/{source} over net/http, for the local runner. It
// reads at most the body limit plus one byte, so an oversized body is refused without
// being read whole.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/webhooks/{source}", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, int64(s.maxBody)+1))
		if err != nil {
			writeResult(w, refuse(http.StatusBadRequest, "bad_body", "could not read the body"))
			return
		}
		headers := make(map[string]string, len(r.Header))
		for k, v := range r.Header {
			headers[strings.ToLower(k)] = strings.Join(v, ",")
		}
		writeResult(w, s.Handle(r.Context(), Request{Method: r.Method, Source: r.PathValue("source"), Headers: headers, Body: body}))
	})
	return mux
}

func writeResult(w http.ResponseWriter, r Result) {
	ct := r.ContentType
	if ct == "" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(r.Status)
	_, _ = w.Write(r.Body)
}
