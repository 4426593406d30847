"""The pod informer (informer.py): a watch of pods, a metric at every transition (pods.py) and
the cluster gauges (cluster.py); the client configuration (client.py), resource quantities
(quantity.py) and the Lease that elects the one replica that emits (lease.py)."""
