from .factory import client_for

notifications = client_for("sns")


def notify(message):
    notifications.publish(TopicArn=TOPIC, Message=message)
