"""EC2 instances, volumes and cost through boto3 (collector.py), priced from the AWS Price
List and Cost Explorer (prices.py)."""
