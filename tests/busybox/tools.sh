# tools.sh - more applets: grep, sed, cut, tail, find, xargs, seq, expr,
# test, touch (and a time it sets, read back by stat), ln -s and
# readlink, basename and dirname, mv.
cd "$1" || exit 9
seq 1 12 > n.txt
grep -c 1 n.txt
grep -n '^1' n.txt | tail -n 2
sed -e 's/1/one/g' -e '/^[2-9]$/d' n.txt | tr '\n' ' '
echo
printf 'a:b:c\nd:e:f\n' | cut -d: -f2,3
tail -n 3 n.txt | head -n 1
mkdir -p d/e
touch d/x d/e/y
find d | sort
find d -type f | sort | xargs echo files:
touch -d @981173106 d/e/y
stat -c %Y d/e/y
ln -s ../n.txt d/link
readlink d/link
wc -l < d/link
mv d/x d/e/z
find d -name '*' -type f | sort
basename /a/b/c.txt .txt
dirname /a/b/c.txt
expr 6 \* 7
if test -d d && test ! -e nothing; then echo "test ok"; fi
[ "$(seq 3 | xargs)" = "1 2 3" ] && echo "xargs ok"
grep -q 12 n.txt; echo "grep -q $?"
grep -q 13 n.txt; echo "grep -q $?"
env | grep -c '^PATH='
