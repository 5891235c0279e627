// Command kstatus prints the status that kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status),
// the library Flux and other GitOps tools judge custom resources with, computes for each
// object in the given YAML or JSON files ("-" or none: standard input). Documents may be
// separated by "---"; a List's items are read one by one. One JSON line per object:
// {"apiVersion", "kind", "namespace", "name", "status", "message"}.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type line struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	Status     string `json:"status"`
	Message    string `json:"message"`
}

func main() {
	paths := os.Args[1:]
	if len(paths) == 0 {
		paths = []string{"-"}
	}
	out := json.NewEncoder(os.Stdout)
	for _, path := range paths {
		if err := judge(path, out); err != nil {
			fmt.Fprintf(os.Stderr, "kstatus: %s: %v\n", path, err)
			os.Exit(1)
		}
	}
}

func judge(path string, out *json.Encoder) error {
	var in io.Reader = os.Stdin
	if path != "-" {
		file, err := os.Open(path)
		if err != nil {
			return err
		}
		defer file.Close()
		in = file
	}
	decoder := utilyaml.NewYAMLOrJSONDecoder(bufio.NewReader(in), 4096)
	for document := 1; ; document++ {
		var raw json.RawMessage
		if err := decoder.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("document %d: %w", document, err)
		}
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		if err := judgeDocument(raw, out); err != nil {
			return fmt.Errorf("document %d: %w", document, err)
		}
	}
}

// judgeDocument decodes as the API machinery does (whole numbers as int64, which
// kstatus' generation checks need), a List into its items.
func judgeDocument(raw json.RawMessage, out *json.Encoder) error {
	decoded, err := runtime.Decode(unstructured.UnstructuredJSONScheme, raw)
	if err != nil {
		return err
	}
	switch object := decoded.(type) {
	case *unstructured.UnstructuredList:
		for i := range object.Items {
			if err := report(&object.Items[i], out); err != nil {
				return fmt.Errorf("item %d: %w", i, err)
			}
		}
		return nil
	case *unstructured.Unstructured:
		return report(object, out)
	default:
		return fmt.Errorf("unexpected %T", decoded)
	}
}

func report(u *unstructured.Unstructured, out *json.Encoder) error {
	if u.GetKind() == "" || u.GetName() == "" {
		return errors.New("not an object: kind and metadata.name are required")
	}
	result, err := status.Compute(u)
	if err != nil {
		return fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return out.Encode(line{
		APIVersion: u.GetAPIVersion(),
		Kind:       u.GetKind(),
		Namespace:  u.GetNamespace(),
		Name:       u.GetName(),
		Status:     result.Status.String(),
		Message:    result.Message,
	})
}
