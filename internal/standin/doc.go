// Package standin holds loopback stand-ins for the model servers modelgate is
// put in front of: KServe's Python model server, NVIDIA Triton, Seldon
// MLServer, TensorFlow Serving and TorchServe. Each is a small [http.Handler]
// that reproduces its server family's documented REST behaviour (paths,
// status codes and error bodies, as read in that server's documentation and,
// where the documentation is silent, its source at a named version) so that
// gateway tests can observe what a real server would do with what the gateway
// sends: which path it used, which status it got, what a readiness probe
// answers after a model was unloaded.
//
// A stand-in is not an emulator. Each file's doc comment lists what it
// reproduces and what it leaves out; anything not listed answers as the real
// server answers an unknown path. All of them serve the same iris-like
// classifier ([Iris]), a one-vs-rest logistic regression built from
// [modelserver.Model], so answers are real class labels or probabilities
// computed from the input, not canned bodies.
//
// Every stand-in embeds a [Recorder]: it counts requests per URL path
// ([Recorder.PathCount]) and keeps the last request's headers
// ([Recorder.LastHeader]), so a test can assert which path the gateway sent
// and with which headers. [Serve] and [Start] run a handler on a real
// listener on 127.0.0.1 with an ephemeral port.
//
// All exported methods are safe for concurrent use.
package standin
