# files.sh - mkdir, echo and printf into files, cat, cp, mv, ls, rm, wc.
cd "$1" || exit 9
mkdir -p a/b/c
echo hello > a/one.txt
echo world >> a/one.txt
printf 'x\ny\n' > a/b/two.txt
cp a/one.txt a/b/c/three.txt
ls a
ls -R a
cat a/one.txt a/b/two.txt
wc -l a/one.txt
wc -c < a/b/c/three.txt
mv a/b/two.txt a/four.txt
rm a/b/c/three.txt
rmdir a/b/c
ls a a/b
cp -r a copy
ls -R copy
rm -r a copy
ls
mkdir a/x/y 2>&1 || echo "mkdir without -p failed"
cat nothing.txt
echo "cat status $?"
