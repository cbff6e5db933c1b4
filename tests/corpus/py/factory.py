import boto3


def client_for(service, **kwargs):
    return boto3.client(service, **kwargs)


ssm = client_for("ssm")
secrets = client_for("secretsmanager")


def settings():
    mode = ssm.get_parameter(Name="/app/mode")["Parameter"]["Value"]
    password = secrets.get_secret_value(SecretId="db")["SecretString"]
    return mode, password
