// Command hello is the baseline of the start-up bench (infra/bench/startup): a Go
// Lambda that starts the runtime loop with a handler returning a constant and does
// nothing else, built like Tenaz's functions. Its start-up is what any Go Lambda
// pays; a function's start-up beyond it is the function's own init.
package main

import "github.com/aws/aws-lambda-go/lambda"

func hello() (string, error) { return "hello", nil }

func main() { lambda.Start(hello) }
