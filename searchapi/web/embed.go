// Package web holds the web console's built files (`npm run build` writes them to dist/app),
// embedded in the searchapi binary. A build without them still compiles: dist/ always holds
// .gitkeep, and Console reports that the console was not built.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Console returns the built console's files (index.html at the root), and false when the
// binary was built without them.
func Console() (fs.FS, bool) {
	app, err := fs.Sub(dist, "dist/app")
	if err != nil {
		return nil, false
	}
	if _, err := fs.Stat(app, "index.html"); err != nil {
		return nil, false
	}
	return app, true
}
