"""Developer tools shared by tests, scripts, the demo and the benchmarks; never shipped.

The editable install (`make setup`) puts devtools/ on sys.path, so everything here imports as
`edge_devtools.<module>`: the Lambda emulator, the container-image harness, the list of torch-side packages
and the hand-written text tables behind data/. The shipped runtime (src/edge_encoders) and the handler never
import this package.
"""
