// compose-config loads a Compose file the way `docker compose config` does (the Compose
// Specification's schema, interpolation, extends and merge keys, normalization, path
// resolution) with compose-go, the loader Docker Compose uses, and prints the resulting
// project as YAML. Exit 1 with the loader's error when the file is not a valid project.
//
//	compose-config -f docker-compose.yml [-C dir]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	file := flag.String("f", "docker-compose.yml", "Compose file")
	dir := flag.String("C", ".", "project directory")
	flag.Parse()
	options, err := cli.NewProjectOptions([]string{*file}, cli.WithWorkingDirectory(*dir), cli.WithOsEnv, cli.WithConsistency(true))
	if err != nil {
		fail(err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	out, err := project.MarshalYAML()
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(out)
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "compose-config: %v\n", err)
	os.Exit(1)
}
