// Command parley-interop is the interop tier's go-spiffe v2 + grpc-go harness (test code
// only): a Store client that verifies the gateway by SPIFFE ID, a federation bundle
// fetcher, and a go-spiffe bundle endpoint server. Every subcommand prints JSON lines.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: parley-interop client|fetch-bundle|serve-bundle [flags]")
	}
	var err error
	switch os.Args[1] {
	case "client":
		err = runClient(os.Args[2:])
	case "fetch-bundle":
		err = runFetchBundle(os.Args[2:])
	case "serve-bundle":
		err = runServeBundle(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fail(err.Error())
	}
}

func emit(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func fail(msg string) {
	emit(map[string]string{"error": msg})
	os.Exit(1)
}
