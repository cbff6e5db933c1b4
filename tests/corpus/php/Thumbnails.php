<?php

namespace App\Jobs;

use Aws\S3\S3Client;

final class Thumbnails
{
    private S3Client $s3;

    public function __construct()
    {
        $this->s3 = new S3Client(['version' => 'latest']);
    }

    public function fetch(string $key): string
    {
        $s3 = new S3Client(['version' => 'latest', 'region' => 'eu-west-1']);
        $object = $s3->getObject(['Bucket' => 'thumbnails', 'Key' => $key]);
        return (string) $object['Body'];
    }
}
