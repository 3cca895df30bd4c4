"""The embedded default: what Sentinel runs on when no ``sentinel.yaml`` exists (the demo, a first try)."""

EMBEDDED = """
clusters:
  training:
    region: ap-southeast-2
    eks_cluster: du-yuyang-training
    nodegroups:
      managed-ng-1:        {awake: {min: 2, desired: 2, max: 4}, instance_type: m5.xlarge}
      worker-group-spot-1: {awake: {min: 0, desired: 1, max: 5}, instance_type: m5.2xlarge, spot: true}
    system_deployments: [kube-system/cluster-autoscaler, kube-system/metrics-server, kube-system/coredns]
    ray: {dashboard: "http://127.0.0.1:8265", namespace: sentinel-prod, raycluster: sentinel-training-cluster}
schedules:
  - {name: weeknight-sleep, cluster: training, action: sleep, cron: "0 20 * * mon-fri", timezone: Australia/Sydney}
  - {name: weekday-wake, cluster: training, action: wake, cron: "30 7 * * mon-fri", timezone: Australia/Sydney}
triggers:
  - {name: new-ratings, bucket: training-artifacts, queue: sentinel-s3-events, prefix: data/ratings/, cluster: training}
pricing: {m5.xlarge: 0.192, m5.2xlarge: 0.384}
"""
