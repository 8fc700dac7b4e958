"""The five source posts the course is built from, cited by number and title (never by file name)."""

from __future__ import annotations

POSTS = {
    1: ("Pytorch 卷积神经网络参数说明一", "CSDN blog"),
    2: ("pytorch中的nn.Conv2d", "CSDN blog"),
    3: ("pytorch学习之nn模块", "CSDN blog"),
    4: ("【Pytorch】笔记五：nn 模块中的网络层介绍", "Tencent Cloud developer column"),
    5: ("（pytorch实战）使用Pytorch实现小型卷积神经网络网络", "Zhihu"),
}


def cite(number: int) -> str:
    """``post [N] “title”``, the way the course names a source post in a message."""
    return f"post [{number}] “{POSTS[number][0]}”"
