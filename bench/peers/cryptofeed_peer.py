"""
cryptofeed peer of bench/ws-peers.ts: subscribes TRADES for BTC-USDT on cryptofeed's Binance feed
with its REST and WebSocket endpoints pointed at the simulated exchange, and prints a
`# version <cryptofeed version>` line, then one line `<id> <time_ms>` per trade it delivers
(cryptofeed's Binance TRADES channel is the `@aggTrade` stream and its trade `id` is the
aggTrade's `a`), for `--seconds`, then exits.

    python3 bench/peers/cryptofeed_peer.py --base http://127.0.0.1:8090 --seconds 90 --log /tmp/cf.log

Endpoints: a subclass of cryptofeed.exchanges.Binance replaces the class attributes
`websocket_endpoints` (the feed connects to `<ws>/stream?streams=btcusdt@aggTrade`) and
`rest_endpoints` (exchangeInfo for the symbol map; nothing else is asked for TRADES), and
cryptofeed.feed's WSAsyncConn is swapped for a subclass that accepts `ws://` (cryptofeed raises
"Invalid address, must be a wss address" otherwise; the connection code is unchanged). Everything
else is cryptofeed's default behaviour: after a connection error it waits 1 s (doubling while
connects keep failing, back to 1 s after one succeeds; 10 retries), a 120 s silence timeout, no
refill of what it missed. Stdout carries only those lines; cryptofeed's log goes to stderr and --log.
"""
import argparse
import asyncio
import sys
from importlib.metadata import version

import cryptofeed.feed
from cryptofeed import FeedHandler
from cryptofeed.connection import RestEndpoint, Routes, WebsocketEndpoint, WSAsyncConn
from cryptofeed.defines import TRADES
from cryptofeed.exchanges import Binance


class PlainWSAsyncConn(WSAsyncConn):
    """WSAsyncConn refuses any address but `wss://`; the simulator speaks plain `ws://`."""

    def __init__(self, address: str, *args, **kwargs):
        super().__init__('wss://' + address.split('://', 1)[1], *args, **kwargs)
        self.address = address


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--base', required=True, help='simulator base URL, http://host:port')
    p.add_argument('--seconds', type=float, required=True, help='how long to run')
    p.add_argument('--symbol', default='BTC-USDT')
    p.add_argument('--log', default='cryptofeed-peer.log', help="cryptofeed's log file")
    a = p.parse_args()
    http = a.base.rstrip('/')
    ws = 'ws' + http[len('http'):]

    class SimBinance(Binance):
        websocket_endpoints = [WebsocketEndpoint(ws)]
        rest_endpoints = [
            RestEndpoint(
                http,
                routes=Routes('/api/v3/exchangeInfo', l2book='/api/v3/depth?symbol={}&limit={}',
                              authentication='/api/v3/userDataStream'),
            )
        ]

    out = sys.stdout
    out.write(f'# version {version("cryptofeed")}\n')

    async def trade(t, receipt_timestamp):
        out.write(f'{t.id} {round(t.timestamp * 1000)}\n')

    cryptofeed.feed.WSAsyncConn = PlainWSAsyncConn
    fh = FeedHandler(config={'uvloop': False, 'log': {'filename': a.log, 'level': 'WARNING'}})
    fh.add_feed(SimBinance(symbols=[a.symbol], channels=[TRADES], callbacks={TRADES: trade}))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    fh.run(start_loop=False, install_signal_handlers=False)
    loop.call_later(a.seconds, loop.stop)
    loop.run_forever()
    fh.stop(loop=loop)
    fh.close(loop=loop)
    out.flush()


if __name__ == '__main__':
    main()
