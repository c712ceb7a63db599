"""The contract suite (KUBERAY_CONTRACT=1): fakekube and the gateway compared with a real kube-apiserver."""
